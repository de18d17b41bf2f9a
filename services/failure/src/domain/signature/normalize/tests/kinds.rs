//! The regex set that names a candidate's kind against capture groups, on
//! every table input and on glued fragments.

use regex::Regex;

use super::super::{KINDS, MASKS, PATTERNS, kind_of, patterns};
use super::{
    DURATIONS, EMAIL_ADDRESSES, HEX_IDS_HASHES_AND_ADDRESSES, HOST_NAMES, IP_ADDRESSES_AND_PORTS,
    KEEP_NUMBERS_CASES, KEPT, LOG_PREFIXES, LONG_NUMBERS, NON_ASCII_TEXT, NOT_LOG_PREFIXES,
    QUOTED_VALUES_AFTER_AN_EQUALS_SIGN, TEMPORARY_PATHS, TIMESTAMPS_DATES_AND_TIMES, URLS, UUIDS,
    WHITESPACE,
};

const MASKED_TABLES: &[&[(&str, &str)]] = &[
    UUIDS,
    HEX_IDS_HASHES_AND_ADDRESSES,
    EMAIL_ADDRESSES,
    URLS,
    HOST_NAMES,
    IP_ADDRESSES_AND_PORTS,
    TIMESTAMPS_DATES_AND_TIMES,
    DURATIONS,
    TEMPORARY_PATHS,
    QUOTED_VALUES_AFTER_AN_EQUALS_SIGN,
    LONG_NUMBERS,
    LOG_PREFIXES,
    WHITESPACE,
    KEEP_NUMBERS_CASES,
    NON_ASCII_TEXT,
];

/// The regex set must name the alternative the combined regex chose. Capture
/// groups tell that directly (too slowly for production); both are asked
/// about every candidate at every start in every table input.
#[test]
fn the_kind_of_a_candidate_is_the_alternative_that_matched() {
    assert_eq!(KINDS.len(), PATTERNS.len());
    let with_groups: Vec<String> = patterns().map(|pattern| format!("({pattern})")).collect();
    let with_groups = Regex::new(&format!("(?-u:{})", with_groups.join("|"))).unwrap();
    let mut locations = with_groups.capture_locations();
    let mut inputs: Vec<String> = MASKED_TABLES
        .iter()
        .flat_map(|table| table.iter().flat_map(|(input, output)| [*input, *output]))
        .chain(KEPT.iter().copied())
        .chain(NOT_LOG_PREFIXES.iter().copied())
        .map(str::to_owned)
        .collect();
    inputs.extend(glued_fragments());
    let mut candidates = 0;
    for input in &inputs {
        let mut from = 0;
        while let Some(found) = MASKS.find_at(input, from) {
            let grouped = with_groups
                .captures_read_at(&mut locations, input, from)
                .unwrap();
            assert_eq!(found.range(), grouped.range(), "{input:?} from {from}");
            let chosen = (0..PATTERNS.len())
                .find(|index| locations.get(index + 1).is_some())
                .map(|index| PATTERNS[index].0);
            assert_eq!(
                kind_of(found.as_str()),
                chosen,
                "{:?} in {input:?}",
                found.as_str()
            );
            candidates += 1;
            from = found.start()
                + input[found.start()..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
        }
    }
    assert!(candidates > 5_000, "only {candidates} candidates");
}

/// Pairs of fragments that are candidates or almost, glued by the
/// characters that decide word boundaries and context: the edges of a
/// candidate are where the regex set could see otherwise than the regex.
fn glued_fragments() -> Vec<String> {
    let fragments = [
        "db-3.example.com",
        "example.com",
        "-x.io",
        "a@b.co",
        "1b6d3586",
        "0x1f",
        "::1",
        "d::1",
        "fe80::1",
        "10.0.0.1",
        "1.2.3.4.5",
        "12345",
        "1.5s",
        "2m30s",
        "PT",
        "PT5S",
        "10:11:12",
        "2024-01-02",
        "2024-01-02T10:11:12Z",
        "123e4567-e89b-12d3-a456-426614174000",
        "/tmp/x",
        r"C:\Temp\x",
        "http://x.y/z",
        "'v'",
        "localhost",
        "deadbeef",
        "abc",
        "",
    ];
    let glue = ["", " ", ".", "-", "_", ":", "=", "@", "/", "(", "]"];
    let mut inputs = Vec::new();
    for left in fragments {
        for right in fragments {
            for between in glue {
                inputs.push(format!("{left}{between}{right}"));
            }
        }
    }
    inputs
}
