//! Message normalisation: the text that failures without a usable stack
//! trace are grouped by, and the message part of every signature.
//!
//! Two runs of the same broken test rarely print the same message: ids,
//! addresses, times, durations and temporary directories change from run
//! to run. Those values are replaced by stable placeholders; what tells two
//! problems apart (exception types, qualified names, status codes, short
//! assertion literals, file names) is kept. A log prefix in front of the
//! message is dropped and whitespace is collapsed, so indentation and line
//! breaks do not split a group.
//!
//! | kind | examples | becomes |
//! |---|---|---|
//! | URL (`scheme://...`, trailing punctuation left out) | `https://api.example.com/v1/users/42`, `jdbc:postgresql://db:5432/app` | `<url>`, `jdbc:<url>` |
//! | e-mail address | `jane.doe+ci@example.com` | `<email>` |
//! | quoted value after `=` (not `==`, `!=`, `<=`, `>=`) | `id='abc123'`, `name="x y"` | `id='<value>'`, `name='<value>'` |
//! | temporary path (`/tmp`, `/var/tmp`, `/var/folders`, `/private/var`, `/private/tmp`, `/dev/shm`, `/home/runner/work/_temp`, `X:\Users\*\AppData\Local\Temp`, `X:\Windows\Temp`, `X:\Temp`, `X:\a\_temp`), whole path | `/tmp/pytest-of-u/pytest-12/test_x0/a.csv` | `<path>` |
//! | UUID | `123e4567-e89b-12d3-a456-426614174000` | `<uuid>` |
//! | timestamp: ISO 8601 (`T` or space, optional seconds, fraction, zone), RFC 2822, Java's `Date.toString()` | `2024-01-02 10:11:12,123`, `Tue, 02 Jan 2024 10:11:12 GMT` | `<timestamp>` |
//! | date (`yyyy-mm-dd`, `yyyy/mm/dd`) | `2024-01-02` | `<date>` |
//! | time of day with seconds | `10:11:12.345` | `<time>` |
//! | duration: number with a unit, compound (`2m30s`), ISO (`PT30S`) | `150ms`, `1.5s`, `30000 milliseconds`, `1.234 s` | `<duration>` |
//! | IPv4, IPv6 (also `[v6]`, `%zone`, v4-mapped), with `:port` | `10.0.0.12:5432`, `[::1]:8080` | `<ip>:<port>`, `[<ip>]:<port>` |
//! | port after `localhost` | `localhost:8080` | `localhost:<port>` |
//! | host name (rule below), with `:port` | `db-3.internal.example.com:5432` | `<host>:<port>` |
//! | hex: `0x...`, an object address after a type name, a run of 8+ hex characters with a digit and a letter | `0x7ffe`, `Cart@1b6d3586`, `9fceb02d0ae5` | `<hex>`, `Cart@<hex>` |
//! | number with a run of 4+ digits (kept with `keep_numbers`) | `123456`, `1234.5`, `3.14159` | `<num>` |
//!
//! Kept: numbers of up to 3 digits (`status 404`, `HTTP/1.1 503`,
//! `expected: <5> but was: <3>`), qualified names (`java.lang.IllegalStateException`,
//! `org.junit.Assert`, `os.path`), file names (`CartTest.java:42`), words
//! with digits (`v2`, `test_x0`, `pool-1-thread-3`), quoted literals not
//! after a single `=` (`assert 'a' == 'b'`, `Expected: "a" Actual: "b"`).
//!
//! A host name is a dotted name (its first label has a letter) that is
//! all of: its last label is one of [`HOST_SUFFIXES`] (lowercase: common
//! generic and country TLDs and the private suffixes `local`, `internal`,
//! `lan`, ...; file extensions such as `java`, `py`, `rs`, `js` are not in
//! it), its first label is not a reverse-DNS package root from
//! [`QUALIFIED_NAME_ROOTS`] (`com.google.common.io` is a package), it does
//! not follow `.`, `/` or `\` (the tail of a longer name or a path) and
//! does not go on after the suffix (`(` of a call such as `obj.net(`, or
//! `.x`, `-`, `_`). Labels are at most 63 characters and a name at most
//! ten labels, as in DNS. Capitalised last labels (`org.junit.Assert`) are
//! never hosts. Limits: a name that ends like a
//! host (`socket.io`, Python's `threading.local`) is masked, and four
//! dotted numbers (`1.8.0.292`) are an IPv4 address.
//!
//! The log prefix stripped from the start: a timestamp (optionally in
//! brackets), then a level (`ERROR`, `[INFO]`, `WARNING:`, Python's
//! `ERROR:logger:`), a thread in brackets before or after the level, and a
//! logger followed by ` - `, or by `: ` when it is dotted and not an
//! exception type (`ERROR java.lang.IllegalStateException: boom` keeps the
//! exception). Python's `time - logger - LEVEL - ` is recognised too. A
//! thread or logger is only stripped next to a level.
//!
//! One pass of one precompiled regex (all kinds as alternatives, the first
//! listed wins at a position) over the collapsed text finds candidates; a
//! regex set tells each candidate's kind; candidates that the context
//! rules refuse are left as they are and the scan goes on at the next
//! character.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use log_prefix::strip_log_prefix;

/// How much of a message is masked. The default masks long numbers too,
/// which suits most projects: counters, sizes and ids change between runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Keep numbers of any length. For projects whose messages carry
    /// meaningful large numbers (error codes such as `ORA-12154`, limits);
    /// every other kind is still masked.
    pub keep_numbers: bool,
}

/// The text a failure's message is grouped by: log prefix dropped,
/// whitespace collapsed to single spaces, values that change between runs
/// masked (see the module documentation for the rules).
pub fn normalize_message(message: &str, options: &NormalizeOptions) -> String {
    let collapsed = collapse_whitespace(message);
    mask_values(strip_log_prefix(&collapsed), options)
}

/// Last labels that make a dotted name a host name. Lowercase only: class
/// names are capitalised, host names in messages are not. Left out on
/// purpose because they are common file extensions or module names:
/// `py`, `rs`, `sh`, `md`, `pl`, `so`, `cc`, `in`, `it`, `me`, `be`, `at`,
/// `no`, `app`, `dev`, `info`, `home`, `test`, `example`.
pub const HOST_SUFFIXES: &[&str] = &[
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "io",
    "co",
    "ai",
    "cloud",
    "biz",
    "xyz",
    "arpa",
    "local",
    "localdomain",
    "localhost",
    "internal",
    "intranet",
    "lan",
    "corp",
    "svc",
    "uk",
    "de",
    "fr",
    "nl",
    "eu",
    "ca",
    "au",
    "jp",
    "cn",
    "ru",
    "br",
    "es",
    "se",
    "ch",
    "dk",
    "fi",
    "nz",
    "ie",
    "cz",
    "kr",
];

/// First labels of qualified names written in reverse-DNS order (Java,
/// Kotlin, Scala packages): `com.example.db.io` is a package, not a host.
pub const QUALIFIED_NAME_ROOTS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "io", "co", "java", "javax", "jakarta", "jdk", "sun",
    "kotlin", "kotlinx", "scala", "android", "androidx",
];

/// What a candidate found by [`MASKS`] is. The order is the order of the
/// alternatives in [`PATTERNS`], and so their priority at one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Url,
    Email,
    QuotedValue,
    TempPath,
    Uuid,
    Timestamp,
    Date,
    Time,
    Duration,
    Ipv4,
    Ipv6,
    Host,
    Localhost,
    HexLiteral,
    ObjectAddress,
    LongNumber,
    HexRun,
}

/// ISO 8601 date and time, `T` or a space between, optional seconds,
/// fraction and zone; the same with `-` between the time's parts as file
/// names carry it (Surefire's `2024-01-02T10-11-12_345`); RFC 2822; Java's
/// `Date.toString()`.
const TIMESTAMP: &str = concat!(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z| ?[+-]\d{2}(?::?\d{2})?| ?(?:UTC|GMT))?",
    r"|\b\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:[_.,]\d+)?",
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}(?::\d{2})?(?: (?:GMT|UTC|UT|Z|[ECMP][SD]T|[+-]\d{4}))?\b",
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{2} \d{2}:\d{2}:\d{2} [A-Z]{2,5} \d{4}\b",
);

const DATE: &str = r"\b\d{4}[-/](?:0[1-9]|1[0-2])[-/](?:0[1-9]|[12]\d|3[01])\b";

const TIME: &str = r"\b\d{1,2}:[0-5]\d:[0-5]\d(?:[.,]\d+)?\b";

/// The candidates, one alternative each, in priority order. The whole is
/// compiled with Unicode off (`\b`, `\d` are ASCII, which keeps the lazy DFA
/// on any text); negated classes switch it back on so they match whole
/// characters. `{host_suffixes}` stands for [`HOST_SUFFIXES`].
/// Names and e-mail parts are bounded (63 characters a label, 9 labels) as
/// DNS bounds them: an unbounded run would keep every search going to the
/// end of a long token, and the scan would turn quadratic.
const PATTERNS: [(Kind, &str); 17] = [
    (
        Kind::Url,
        r#"\b[A-Za-z][A-Za-z0-9+.-]{0,31}://(?u:[^ "'<>`])+"#,
    ),
    (
        Kind::Email,
        r"\b[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b",
    ),
    (Kind::QuotedValue, r#"= ?(?:'(?u:[^'])*'|"(?u:[^"])*")"#),
    (
        Kind::TempPath,
        concat!(
            r#"/(?:tmp|var/tmp|var/folders|private/var|private/tmp|dev/shm|home/runner/work/_temp)(?:/(?u:[^ "'<>|,;:()\[\]{}])*|\b)"#,
            r#"|\b(?:(?i:[a-z]:\\{1,2}users\\{1,2})(?u:[^\\"'<>|]){1,64}(?i:\\{1,2}appdata\\{1,2}local\\{1,2}temp)"#,
            r#"|(?i:[a-z]:\\{1,2}(?:windows\\{1,2}temp|temp|a\\{1,2}_temp)))(?:\\(?u:[^ "'<>|,;:()\[\]{}])*|\b)"#,
        ),
    ),
    (
        Kind::Uuid,
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    ),
    (Kind::Timestamp, TIMESTAMP),
    (Kind::Date, DATE),
    (Kind::Time, TIME),
    (
        Kind::Duration,
        concat!(
            r"\b\d+(?:\.\d+)?(?:ms|us|(?u:µs|μs)|ns|h|m|s)(?:\d+(?:\.\d+)?(?:ms|us|(?u:µs|μs)|ns|h|m|s))*\b",
            r"|\b\d+(?:\.\d+)? ?(?:nanoseconds?|microseconds?|milliseconds?|millis|msecs?|ms|us|(?u:µs|μs)|ns|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)\b",
            r"|\b\d+\.\d+ s\b",
            r"|\bPT(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?\b",
        ),
    ),
    (Kind::Ipv4, r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    (
        Kind::Ipv6,
        concat!(
            r"(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}",
            r"|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?)",
            r"(?:(?:\.\d{1,3}){3})?(?:%[A-Za-z0-9]+)?",
        ),
    ),
    (
        Kind::Host,
        r"\b[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.(?:{host_suffixes})\b",
    ),
    (Kind::Localhost, r"\blocalhost\b"),
    (Kind::HexLiteral, r"\b0[xX][0-9a-fA-F]+\b"),
    (Kind::ObjectAddress, r"@[0-9a-fA-F]{1,16}\b"),
    // A run of 6 or more digits is a generated value even inside a word
    // (`surefirebooter2054976.jar`, `surefire2831172tmp`); shorter runs
    // there are names (`utf8`, `x86_64`, `Java17`).
    (
        Kind::LongNumber,
        r"\b(?:\d{4,}(?:\.\d+)?|\d+\.\d{4,})\b|\d{6,}",
    ),
    (Kind::HexRun, r"\b[0-9a-fA-F]{8,}\b"),
];

/// All kinds in one regex, compiled once per process; it finds where a
/// candidate is, not which kind it is (capture groups would tell, but
/// resolving them costs about ten times the search).
static MASKS: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<String> = patterns().map(|pattern| format!("(?:{pattern})")).collect();
    compile(&format!("(?-u:{})", alternatives.join("|")))
});

/// Each kind anchored at both ends, to classify a candidate [`MASKS`]
/// found: the first kind that matches the candidate exactly is the
/// alternative [`MASKS`] chose there (a kind listed earlier that matched
/// at that start would have been chosen, whatever its length). The
/// candidate's edges stand in for the text around it in `\b`, which gives
/// the same answer for these patterns; a test checks it against capture
/// groups on every table input.
static KINDS: LazyLock<RegexSet> =
    LazyLock::new(|| compile_set(patterns().map(|pattern| format!("(?-u:^(?:{pattern})$)"))));

/// [`PATTERNS`] with the host suffixes filled in.
fn patterns() -> impl Iterator<Item = String> {
    let suffixes = HOST_SUFFIXES.join("|");
    PATTERNS
        .iter()
        .map(move |(_, pattern)| pattern.replace("{host_suffixes}", &suffixes))
}

#[expect(
    clippy::expect_used,
    reason = "the patterns are constants; the tests compile them"
)]
fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the normalisation patterns compile")
}

#[expect(
    clippy::expect_used,
    reason = "the patterns are constants; the tests compile them"
)]
fn compile_set(patterns: impl IntoIterator<Item = String>) -> RegexSet {
    RegexSet::new(patterns).expect("the normalisation patterns compile")
}

fn collapse_whitespace(message: &str) -> String {
    let mut collapsed = String::with_capacity(message.len());
    for word in message.split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    collapsed
}

/// What replaces a candidate: `placeholder` then `suffix` (a port, the
/// closing bracket of an IPv6 address), up to `end` in the input.
struct Masked {
    placeholder: &'static str,
    suffix: &'static str,
    end: usize,
}

impl Masked {
    fn new(placeholder: &'static str, end: usize) -> Option<Self> {
        Some(Self {
            placeholder,
            suffix: "",
            end,
        })
    }

    /// The placeholder and a `:port` right after it, masked too.
    fn with_port(placeholder: &'static str, text: &str, end: usize) -> Option<Self> {
        match port_end(text, end) {
            Some(port_end) => Some(Self {
                placeholder,
                suffix: ":<port>",
                end: port_end,
            }),
            None => Self::new(placeholder, end),
        }
    }
}

fn mask_values(text: &str, options: &NormalizeOptions) -> String {
    let masks = &*MASKS;
    let mut masked_text = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    let mut from = 0;
    while from < text.len() {
        let Some(found) = masks.find_at(text, from) else {
            break;
        };
        let (start, end) = (found.start(), found.end());
        match kind_of(found.as_str()).and_then(|kind| mask(kind, text, start, end, options)) {
            Some(masked) => {
                masked_text.push_str(&text[copied..start]);
                masked_text.push_str(masked.placeholder);
                masked_text.push_str(masked.suffix);
                copied = masked.end;
                from = masked.end;
            }
            None => from = start + text[start..].chars().next().map_or(1, char::len_utf8),
        }
    }
    masked_text.push_str(&text[copied..]);
    masked_text
}

fn kind_of(candidate: &str) -> Option<Kind> {
    let first = KINDS.matches(candidate).iter().next()?;
    PATTERNS.get(first).map(|(kind, _)| *kind)
}

/// Applies the context rules to one candidate; `None` keeps it as it is.
fn mask(
    kind: Kind,
    text: &str,
    start: usize,
    end: usize,
    options: &NormalizeOptions,
) -> Option<Masked> {
    let found = &text[start..end];
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    match kind {
        Kind::Url => Masked::new("<url>", start + trim_url(found).len()),
        Kind::Email => Masked::new("<email>", end),
        Kind::QuotedValue => {
            if matches!(before, Some('=' | '!' | '<' | '>')) {
                return None;
            }
            let placeholder = if found.starts_with("= ") {
                "= '<value>'"
            } else {
                "='<value>'"
            };
            Masked::new(placeholder, end)
        }
        Kind::TempPath => {
            let inside_a_name = |c: char| c.is_ascii_alphanumeric() || "_.-~/\\".contains(c);
            if found.starts_with('/') && before.is_some_and(inside_a_name) {
                return None;
            }
            Masked::new("<path>", start + found.trim_end_matches('.').len())
        }
        Kind::Uuid => Masked::new("<uuid>", end),
        Kind::Timestamp => Masked::new("<timestamp>", end),
        Kind::Date => Masked::new("<date>", end),
        Kind::Time => Masked::new("<time>", end),
        Kind::Duration if found == "PT" => None,
        Kind::Duration => Masked::new("<duration>", end),
        Kind::Ipv4 => {
            let continues = |rest: &str| {
                rest.strip_prefix('.')
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            };
            let octets_valid = found.split('.').all(|octet| octet.parse::<u8>().is_ok());
            if !octets_valid || before == Some('.') || continues(&text[end..]) {
                return None;
            }
            Masked::with_port("<ip>", text, end)
        }
        Kind::Ipv6 => mask_ipv6(text, start, end, before),
        Kind::Host => {
            let name_goes_on = matches!(after, Some('(' | '_' | '-'))
                || text[end..]
                    .strip_prefix('.')
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphanumeric()));
            let is_host = !matches!(before, Some('.' | '/' | '\\'))
                && !name_goes_on
                && looks_like_host(found);
            if is_host {
                Masked::with_port("<host>", text, end)
            } else {
                None
            }
        }
        Kind::Localhost => match port_end(text, end) {
            Some(port_end) if before != Some('.') => Some(Masked {
                placeholder: "localhost",
                suffix: ":<port>",
                end: port_end,
            }),
            _ => None,
        },
        Kind::HexLiteral => Masked::new("<hex>", end),
        Kind::ObjectAddress => {
            let after_type_name =
                before.is_some_and(|c| c.is_ascii_alphanumeric() || "_$;]>".contains(c));
            let hash = &found[1..];
            let hash_like = hash.bytes().any(|b| b.is_ascii_digit()) || hash.len() == 8;
            if after_type_name && hash_like {
                Masked::new("@<hex>", end)
            } else {
                None
            }
        }
        Kind::LongNumber if options.keep_numbers => None,
        Kind::LongNumber => Masked::new("<num>", end),
        Kind::HexRun => {
            let has_digit = found.bytes().any(|b| b.is_ascii_digit());
            let has_letter = found.bytes().any(|b| b.is_ascii_alphabetic());
            if has_digit && has_letter {
                Masked::new("<hex>", end)
            } else {
                None
            }
        }
    }
}

/// A URL ends before trailing sentence punctuation, and before a closing
/// bracket it did not open (`(see http://x/y)`).
fn trim_url(url: &str) -> &str {
    let mut trimmed = url;
    loop {
        let next = trimmed.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let next = match next.chars().next_back() {
            Some(close @ (')' | ']' | '}')) => {
                let open = match close {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if next.matches(open).count() < next.matches(close).count() {
                    &next[..next.len() - 1]
                } else {
                    next
                }
            }
            _ => next,
        };
        if next.len() == trimmed.len() {
            return trimmed;
        }
        trimmed = next;
    }
}

/// A candidate (eight groups, or groups around one `::`) is an IPv6
/// address when the standard library parses it, it has a digit (`abc::def`
/// is a C++ or Rust path more likely than an address) and it is not the
/// inside of a word or of an `a::b` path.
fn mask_ipv6(text: &str, start: usize, end: usize, before: Option<char>) -> Option<Masked> {
    if before.is_some_and(|c| c.is_ascii_alphanumeric() || "_:.".contains(c)) {
        return None;
    }
    let found = &text[start..end];
    let address = found
        .split_once('%')
        .map_or(found, |(address, _zone)| address);
    let after = text[end..].chars().next();
    if address.parse::<Ipv6Addr>().is_err()
        || !address.bytes().any(|b| b.is_ascii_digit())
        || after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    if before == Some('[') && text[end..].starts_with(']') {
        let bracket_end = end + 1;
        return Some(match port_end(text, bracket_end) {
            Some(port_end) => Masked {
                placeholder: "<ip>",
                suffix: "]:<port>",
                end: port_end,
            },
            None => Masked {
                placeholder: "<ip>",
                suffix: "]",
                end: bracket_end,
            },
        });
    }
    Masked::with_port("<ip>", text, end)
}

/// The rest of the host name rule of the module documentation, on a
/// dotted name that the pattern found ending in one of [`HOST_SUFFIXES`].
fn looks_like_host(name: &str) -> bool {
    let first = name.split('.').next().unwrap_or_default();
    first.bytes().any(|b| b.is_ascii_alphabetic())
        && !QUALIFIED_NAME_ROOTS.contains(&first)
        && name
            .split('.')
            .all(|label| !label.starts_with('-') && !label.ends_with('-'))
}

/// The end of `:port` (1 to 5 digits, at most 65535) at `at`, if there is one.
fn port_end(text: &str, at: usize) -> Option<usize> {
    let rest = text[at..].strip_prefix(':')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let port = rest[..digits].parse::<u32>().ok()?;
    let next = rest[digits..].chars().next();
    let ends_there = !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    (digits <= 5 && port <= 65_535 && ends_there).then_some(at + 1 + digits)
}

mod log_prefix;

#[cfg(test)]
mod tests;
