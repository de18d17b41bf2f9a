use super::{NormalizeOptions, normalize_message};

mod kinds;

const DEFAULT: NormalizeOptions = NormalizeOptions {
    keep_numbers: false,
};
const KEEP_NUMBERS: NormalizeOptions = NormalizeOptions { keep_numbers: true };

/// Normalises every input and reports all mismatches at once, so one run
/// shows every rule a change broke.
fn check(cases: &[(&str, &str)], options: &NormalizeOptions) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(input, expected)| {
            let actual = normalize_message(input, options);
            (actual != *expected)
                .then(|| format!("{input:?}\n  expected {expected:?}\n  got      {actual:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_kept(inputs: &[&str]) {
    let cases: Vec<(&str, &str)> = inputs.iter().map(|input| (*input, *input)).collect();
    check(&cases, &DEFAULT);
}

const UUIDS: &[(&str, &str)] = &[
    (
        "user 123e4567-e89b-12d3-a456-426614174000 not found",
        "user <uuid> not found",
    ),
    ("id=550E8400-E29B-41D4-A716-446655440000", "id=<uuid>"),
    ("(f47ac10b-58cc-4372-a567-0e02b2c3d479)", "(<uuid>)"),
    (
        "order_id: 00000000-0000-0000-0000-000000000000, retry",
        "order_id: <uuid>, retry",
    ),
];

#[test]
fn uuids_are_masked() {
    check(UUIDS, &DEFAULT);
}

const HEX_IDS_HASHES_AND_ADDRESSES: &[(&str, &str)] = &[
    (
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 is missing",
        "commit <hex> is missing",
    ),
    (
        "com.example.Cart@1b6d3586 was not closed",
        "com.example.Cart@<hex> was not closed",
    ),
    (
        "segfault at address 0x7ffee4b2c9a8",
        "segfault at address <hex>",
    ),
    ("null pointer 0x0", "null pointer <hex>"),
    ("<Foo object at 0x7f3a2b1c4d50>", "<Foo object at <hex>>"),
    ("token deadbeef00c0ffee rejected", "token <hex> rejected"),
    ("[I@6d06d69c", "[I@<hex>"),
    (
        "$$Lambda$14/0x0000000800c03000@4e50df2e",
        "$$Lambda$14/<hex>@<hex>",
    ),
    ("checksum A1B2C3D4E5F6 mismatch", "checksum <hex> mismatch"),
    (
        "sha256:3f2a9c1e7d6b5a40 not found",
        "sha256:<hex> not found",
    ),
];

#[test]
fn hex_ids_hashes_and_addresses_are_masked() {
    check(HEX_IDS_HASHES_AND_ADDRESSES, &DEFAULT);
}

const EMAIL_ADDRESSES: &[(&str, &str)] = &[
    (
        "invite sent to jane.doe+ci@example.com twice",
        "invite sent to <email> twice",
    ),
    ("<bob@mail.internal.example.org>", "<<email>>"),
    ("user USER_1@Example.CO.UK exists", "user <email> exists"),
    (
        "git@github.com: Permission denied",
        "<email>: Permission denied",
    ),
];

#[test]
fn email_addresses_are_masked() {
    check(EMAIL_ADDRESSES, &DEFAULT);
}

const URLS: &[(&str, &str)] = &[
    (
        "GET https://api.example.com/v1/users/42?x=1 failed",
        "GET <url> failed",
    ),
    ("see http://localhost:8080/health.", "see <url>."),
    (
        "jdbc:postgresql://10.0.0.12:5432/app refused",
        "jdbc:<url> refused",
    ),
    ("(file:///tmp/report.html)", "(<url>)"),
    (
        "s3://bucket-name/key/part-0001.parquet not found",
        "<url> not found",
    ),
    (
        "redirect to \"https://example.com/a(b)\"",
        "redirect to \"<url>\"",
    ),
];

#[test]
fn urls_are_masked_without_trailing_punctuation() {
    check(URLS, &DEFAULT);
}

const HOST_NAMES: &[(&str, &str)] = &[
    (
        "could not resolve db-3.internal.example.com",
        "could not resolve <host>",
    ),
    (
        "java.net.UnknownHostException: api.github.com: Name or service not known",
        "java.net.UnknownHostException: <host>: Name or service not known",
    ),
    (
        "connect to redis.svc.cluster.local:6379 timed out",
        "connect to <host>:<port> timed out",
    ),
    (
        "Johns-MacBook-Pro.local: nodename nor servname provided",
        "<host>: nodename nor servname provided",
    ),
    ("host.docker.internal refused", "<host> refused"),
    ("unreachable: www.example.com.", "unreachable: <host>."),
    ("ip-10-0-0-1.ec2.internal:443 reset", "<host>:<port> reset"),
    ("'mirror.example.co.uk'", "'<host>'"),
];

#[test]
fn host_names_are_masked_with_their_port() {
    check(HOST_NAMES, &DEFAULT);
}

const IP_ADDRESSES_AND_PORTS: &[(&str, &str)] = &[
    (
        "connect to 10.0.0.12:5432 failed",
        "connect to <ip>:<port> failed",
    ),
    ("request from 192.168.1.1", "request from <ip>"),
    ("bind 0.0.0.0:80: in use", "bind <ip>:<port>: in use"),
    (
        "connect to [::1]:8080 refused",
        "connect to [<ip>]:<port> refused",
    ),
    ("listen on [2001:db8::1]", "listen on [<ip>]"),
    ("fe80::1%eth0 unreachable", "<ip> unreachable"),
    (
        "address 2001:db8::8a2e:370:7334 in use",
        "address <ip> in use",
    ),
    ("peer ::ffff:10.0.0.1 reset", "peer <ip> reset"),
    ("connect to ::1: refused", "connect to <ip>: refused"),
    ("localhost:8080 refused", "localhost:<port> refused"),
    ("route 10.0.0.0/8", "route <ip>/8"),
];

#[test]
fn ip_addresses_and_ports_are_masked() {
    check(IP_ADDRESSES_AND_PORTS, &DEFAULT);
}

const TIMESTAMPS_DATES_AND_TIMES: &[(&str, &str)] = &[
    (
        "token expired at 2024-01-02T10:11:12Z",
        "token expired at <timestamp>",
    ),
    (
        "target/surefire 2026-11-27T10-33-06_551-jvmRun1",
        "target/surefire <timestamp>-jvmRun1",
    ),
    (
        "at 2024-01-02T10:11:12.123456+01:00 ok",
        "at <timestamp> ok",
    ),
    (
        "started 2024-01-02 10:11:12,123 then stopped",
        "started <timestamp> then stopped",
    ),
    ("since 2024-01-02 10:11 UTC", "since <timestamp>"),
    ("Date: Tue, 02 Jan 2024 10:11:12 GMT", "Date: <timestamp>"),
    (
        "created Tue Jan 02 10:11:12 UTC 2024 by job",
        "created <timestamp> by job",
    ),
    ("valid on 2024-01-02 only", "valid on <date> only"),
    ("due 2024/01/02", "due <date>"),
    ("lock taken at 10:11:12.345 by", "lock taken at <time> by"),
    ("2024-01-02T10:11:12", "<timestamp>"),
];

#[test]
fn timestamps_dates_and_times_are_masked() {
    check(TIMESTAMPS_DATES_AND_TIMES, &DEFAULT);
}

const DURATIONS: &[(&str, &str)] = &[
    ("took 150ms", "took <duration>"),
    ("timed out after 1.5s", "timed out after <duration>"),
    ("waited 2m30s for lock", "waited <duration> for lock"),
    (
        "Timeout after 30000 milliseconds",
        "Timeout after <duration>",
    ),
    ("not ready within 5 seconds", "not ready within <duration>"),
    (
        "Tests run: 3, Failures: 1, Time elapsed: 1.234 s",
        "Tests run: 3, Failures: 1, Time elapsed: <duration>",
    ),
    ("timeout PT30S exceeded", "timeout <duration> exceeded"),
    ("slow: 250µs", "slow: <duration>"),
    ("deadline 1h2m3.5s", "deadline <duration>"),
    ("poll every 2 min", "poll every <duration>"),
];

#[test]
fn durations_are_masked() {
    check(DURATIONS, &DEFAULT);
}

const TEMPORARY_PATHS: &[(&str, &str)] = &[
    (
        "/tmp/pytest-of-user/pytest-12/test_x0/data.csv not found",
        "<path> not found",
    ),
    ("No such file: '/tmp/tmpa1b2c3d4'", "No such file: '<path>'"),
    (
        "open /var/folders/xy/abc123/T/junit123/out.txt",
        "open <path>",
    ),
    (
        "/private/var/folders/xy/T/x.log:12: error",
        "<path>:12: error",
    ),
    (
        r"C:\Users\runneradmin\AppData\Local\Temp\junit5\x.txt missing",
        "<path> missing",
    ),
    (
        r"C:\\Users\\RUNNER~1\\AppData\\Local\\Temp\\pytest-of-runneradmin\\pytest-0\\test_a0",
        "<path>",
    ),
    (r"D:\a\_temp\out.json", "<path>"),
    (
        r"read C:\Users\John Smith\AppData\Local\Temp\x.tmp",
        "read <path>",
    ),
    ("wrote /tmp/out.txt.", "wrote <path>."),
    ("cwd is /tmp", "cwd is <path>"),
];

#[test]
fn temporary_paths_are_masked() {
    check(TEMPORARY_PATHS, &DEFAULT);
}

const QUOTED_VALUES_AFTER_AN_EQUALS_SIGN: &[(&str, &str)] = &[
    (
        "User{id='abc123', name=\"x y\"}",
        "User{id='<value>', name='<value>'}",
    ),
    ("where token = 'secret'", "where token = '<value>'"),
    ("key='' is empty", "key='<value>' is empty"),
];

#[test]
fn quoted_values_after_an_equals_sign_are_masked() {
    check(QUOTED_VALUES_AFTER_AN_EQUALS_SIGN, &DEFAULT);
}

const LONG_NUMBERS: &[(&str, &str)] = &[
    ("order 123456 not found", "order <num> not found"),
    (
        "-jar surefirebooter20549764699.jar surefire283117235483tmp",
        "-jar surefirebooter<num>.jar surefire<num>tmp",
    ),
    ("epoch 1704190272123", "epoch <num>"),
    ("build #4521 failed", "build #<num> failed"),
    ("expected total 1234.5", "expected total <num>"),
    ("pi is 3.14159", "pi is <num>"),
    ("offset -12345", "offset -<num>"),
    (
        "expected: <1000> but was: <999>",
        "expected: <<num>> but was: <999>",
    ),
    ("rows 12345678 scanned", "rows <num> scanned"),
];

#[test]
fn long_numbers_are_masked() {
    check(LONG_NUMBERS, &DEFAULT);
}

/// Exception types, qualified names, file names, status codes, short
/// assertion literals, version-like words: what tells failures apart.
const KEPT: &[&str] = &[
    "java.lang.IllegalStateException: boom",
    "decoding utf8 on x86_64 with Java17",
    "org.junit.Assert.assertEquals failed",
    "org.opentest4j.AssertionFailedError: expected: <5> but was: <3>",
    "expected <true> but was <false>",
    "expected:<[foo]> but was:<[bar]>",
    "assert 2 == 3",
    "assert 'abc' == 'abd'",
    "assert x != \"y\"",
    "Expected: \"a\" Actual: \"b\"",
    "at com.example.CartTest.checkout(CartTest.java:42)",
    "test_cart.py:17: AssertionError",
    "index.js main.rs config.yaml Cargo.toml pom.xml setup.cfg",
    "status 403",
    "HTTP/1.1 503 Service Unavailable",
    "GET /api/users returned 404",
    "v2 api on HTTP/2 with python3.11",
    "os.path.join unittest.mock java.io com.google.common.io django.db.models",
    "self.app.config[\"X\"] is None",
    "logger.info(msg) failed",
    "e.g. pool-1-thread-3 in test_x0",
    "deadbeef cafebabe",
    "version 1.2.3",
    "std::vector<int>::at out of range",
    "crate::db::Error",
    "localhost refused",
    "line 12:34",
    "ORA-942 table missing",
    "50% of 200 items",
];

#[test]
fn what_tells_failures_apart_is_kept() {
    check_kept(KEPT);
}

const LOG_PREFIXES: &[(&str, &str)] = &[
    (
        "2024-01-02 10:11:12,123 ERROR [main] com.example.CartService - payment failed",
        "payment failed",
    ),
    (
        "10:11:12.345 [pool-1-thread-3] WARN  o.e.Cart - retry",
        "retry",
    ),
    (
        "[ERROR] Tests run: 3, Failures: 1",
        "Tests run: 3, Failures: 1",
    ),
    (
        "ERROR: relation \"users\" does not exist",
        "relation \"users\" does not exist",
    ),
    ("ERROR:root:boom", "boom"),
    ("ERROR:myapp.db:connection lost", "connection lost"),
    (
        "2024-01-02 10:11:12 - myapp.db - ERROR - connection lost",
        "connection lost",
    ),
    (
        "[2024-01-02T10:11:12Z] INFO [Test worker] c.e.Foo: started",
        "started",
    ),
    (
        "WARN org.example.Foo: java.lang.IllegalStateException: x",
        "java.lang.IllegalStateException: x",
    ),
    (
        "ERROR java.lang.IllegalStateException: boom",
        "java.lang.IllegalStateException: boom",
    ),
    ("SEVERE: Servlet failed", "Servlet failed"),
    ("2024-01-02T10:11:12Z something broke", "something broke"),
    ("10:11:12 [main] boom", "[main] boom"),
];

/// Starts that look like a prefix but are not one.
const NOT_LOG_PREFIXES: &[&str] = &[
    "Error: boom",
    "ERRORS found: 3",
    "[main] boom",
    "java.lang.IllegalStateException: boom",
    "Failures: 1 of 3",
];

#[test]
fn log_prefixes_are_stripped() {
    check(LOG_PREFIXES, &DEFAULT);
    check_kept(NOT_LOG_PREFIXES);
}

const WHITESPACE: &[(&str, &str)] = &[
    ("  a \n\t b   c\n", "a b c"),
    (
        "Expected: \"a\"\n  Actual: \"b\"",
        "Expected: \"a\" Actual: \"b\"",
    ),
    ("", ""),
    (" \n ", ""),
];

#[test]
fn whitespace_is_collapsed() {
    check(WHITESPACE, &DEFAULT);
}

const KEEP_NUMBERS_CASES: &[(&str, &str)] = &[
    ("order 123456 not found", "order 123456 not found"),
    ("rows 12345678 scanned", "rows 12345678 scanned"),
    ("pi is 3.14159", "pi is 3.14159"),
    (
        "took 150ms at 2024-01-02T10:11:12Z, id 9fceb02d0ae598e9",
        "took <duration> at <timestamp>, id <hex>",
    ),
    ("connect to 10.0.0.1:5432", "connect to <ip>:<port>"),
    (
        "Timeout after 30000 milliseconds",
        "Timeout after <duration>",
    ),
    ("user 123e4567-e89b-12d3-a456-426614174000", "user <uuid>"),
];

#[test]
fn keep_numbers_keeps_long_numbers_but_masks_everything_else() {
    check(KEEP_NUMBERS_CASES, &KEEP_NUMBERS);
}

#[test]
fn messages_differing_only_in_masked_values_normalise_alike() {
    let pairs = [
        (
            "Timeout after 30000 milliseconds waiting for 10.0.0.12:5432",
            "Timeout after 5000 milliseconds waiting for 10.0.0.13:6432",
        ),
        (
            "User 123e4567-e89b-12d3-a456-426614174000 not found",
            "User f47ac10b-58cc-4372-a567-0e02b2c3d479 not found",
        ),
        (
            "com.example.Cart@1b6d3586 was not closed",
            "com.example.Cart@4e50df2e was not closed",
        ),
        (
            "2024-01-02 10:11:12,123 ERROR [main] c.e.Foo - upload 1234 failed at /tmp/junit1/a",
            "2024-03-04 22:00:01,999 ERROR [pool-2-thread-7] c.e.Foo - upload 98765 failed at /tmp/junit2/a",
        ),
        (
            "GET https://api.example.com/v1/users/1 returned 503 after 1.5s",
            "GET https://api.example.com/v1/users/2 returned 503 after 2.25s",
        ),
        (
            "Invite for ann@example.com failed: name='Ann'",
            "Invite for bob@example.org failed: name='Bob'",
        ),
    ];
    for (a, b) in pairs {
        assert_eq!(
            normalize_message(a, &DEFAULT),
            normalize_message(b, &DEFAULT),
            "{a:?} and {b:?}"
        );
    }
}

#[test]
fn messages_differing_in_a_kept_value_normalise_apart() {
    let pairs = [
        ("request failed: status 403", "request failed: status 404"),
        ("expected: <5> but was: <3>", "expected: <5> but was: <4>"),
        (
            "java.lang.IllegalStateException: closed",
            "java.lang.IllegalArgumentException: closed",
        ),
        ("file config.yaml not found", "file data.csv not found"),
        ("assert 2 == 3", "assert 2 == 4"),
        ("HTTP/1.1 502 Bad Gateway", "HTTP/1.1 503 Bad Gateway"),
    ];
    for (a, b) in pairs {
        assert_ne!(
            normalize_message(a, &DEFAULT),
            normalize_message(b, &DEFAULT),
            "{a:?} and {b:?}"
        );
    }
    assert_ne!(
        normalize_message("order 123456 lost", &KEEP_NUMBERS),
        normalize_message("order 123457 lost", &KEEP_NUMBERS),
    );
}

const NON_ASCII_TEXT: &[(&str, &str)] = &[
    (
        "Erwartet: «grün» — 12345 Äpfel",
        "Erwartet: «grün» — <num> Äpfel",
    ),
    (
        "ユーザー 123e4567-e89b-12d3-a456-426614174000",
        "ユーザー <uuid>",
    ),
];

#[test]
fn non_ascii_text_is_kept_whole() {
    check(NON_ASCII_TEXT, &DEFAULT);
}
