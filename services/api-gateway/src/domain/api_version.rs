//! Which version of the public API a request asks for.

/// Splits `/api/...` into the version and the path after it: `/api/v2/x`
/// names version 2; an unversioned `/api/x` takes it from a vendor media
/// type in `Accept` (`application/vnd.faultline.v2+json`), else the default.
pub fn version_and_path<'a>(
    path: &'a str,
    accept: Option<&str>,
    default_version: u32,
) -> Option<(u32, &'a str)> {
    let rest = path.strip_prefix("/api")?;
    if !rest.starts_with('/') {
        return None;
    }
    if let Some(after_v) = rest.strip_prefix("/v") {
        let (digits, tail) = after_v.split_at(after_v.find('/').unwrap_or(after_v.len()));
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some((digits.parse().ok()?, tail));
        }
    }
    let from_accept = accept.and_then(|accept| {
        accept.split(',').find_map(|item| {
            let media = item.split(';').next()?.trim();
            media
                .strip_prefix("application/vnd.faultline.v")?
                .strip_suffix("+json")?
                .parse::<u32>()
                .ok()
        })
    });
    Some((from_accept.unwrap_or(default_version), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_path_then_the_accept_header_then_the_default() {
        assert_eq!(version_and_path("/api/v1/me", None, 1), Some((1, "/me")));
        assert_eq!(
            version_and_path("/api/v2/projects/x", None, 1),
            Some((2, "/projects/x"))
        );
        assert_eq!(
            version_and_path("/api/me", Some("application/vnd.faultline.v2+json"), 1),
            Some((2, "/me"))
        );
        assert_eq!(
            version_and_path(
                "/api/me",
                Some("text/html, application/vnd.faultline.v3+json;q=0.9"),
                1
            ),
            Some((3, "/me"))
        );
        assert_eq!(
            version_and_path("/api/me", Some("application/json"), 1),
            Some((1, "/me"))
        );
        assert_eq!(version_and_path("/api/v0/me", None, 1), Some((0, "/me")));
        assert_eq!(version_and_path("/apis/v1/me", None, 1), None);
        assert_eq!(version_and_path("/internal/v1/access", None, 1), None);
    }
}
