//! Path parameters that could reach another upstream path than the one
//! the route table matched and the gateway authorized.

/// The first parameter that could change which upstream path is reached:
/// a `.` or `..` segment (URL parsers resolve it away, so the upstream would
/// serve another path than the one authorized), a `\\`, or an encoded `.`,
/// `/` or `\\` (`%2e`, `%2f`, `%5c` in any case, or encoded again, `%252e`,
/// `%25%32%65`, ...), which an upstream that decodes the path, once or more,
/// would turn into a dot segment or a separator.
pub fn unsafe_parameter(params: &[(String, String)]) -> Option<&str> {
    params
        .iter()
        .find(|(_, value)| is_unsafe_segment(value))
        .map(|(name, _)| name.as_str())
}

fn is_unsafe_segment(value: &str) -> bool {
    let delimiters = |bytes: &[u8]| {
        bytes
            .iter()
            .filter(|b| matches!(b, b'.' | b'/' | b'\\'))
            .count()
    };
    let mut layer = value.as_bytes().to_vec();
    loop {
        if layer == b"." || layer == b".." || layer.contains(&b'\\') {
            return true;
        }
        // Every decoding layer that changes the text shortens it, so this ends.
        let decoded = percent_decode(&layer);
        if decoded == layer {
            return false;
        }
        if delimiters(&decoded) > delimiters(&layer) {
            return true;
        }
        layer = decoded;
    }
}

/// One layer of percent-decoding; a `%` not followed by two hex digits stays.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_encoded_separators_or_dots_are_unsafe_parameters() {
        for unsafe_value in [
            ".",
            "..",
            "%2e",
            "%2E%2e",
            "a%2eb",
            "%2f",
            "%2F",
            "%5c",
            "%5C",
            "a\\b",
            "%252e",
            "%252F",
            "%255c",
            "%25252e%25252e",
            "%25%32%65",
            "%2%65",
        ] {
            assert!(is_unsafe_segment(unsafe_value), "{unsafe_value}");
        }
        for safe in [
            "demo",
            "a.b",
            "...x",
            "v1.2",
            "%20",
            "%25",
            "100%25done",
            "%2",
            "%zz",
        ] {
            assert!(!is_unsafe_segment(safe), "{safe}");
        }
        let params = vec![
            ("project".to_owned(), "demo".to_owned()),
            ("build".to_owned(), "%2e%2e".to_owned()),
        ];
        assert_eq!(unsafe_parameter(&params), Some("build"));
        assert_eq!(unsafe_parameter(&params[..1]), None);
    }
}
