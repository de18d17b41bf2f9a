//! Every call to a third party goes through here: the target is checked
//! against server-side request forgery, the connection is pinned to the
//! address that was checked, and the answer is bounded.
//!
//! A URL must be `https` (plain `http` only with `service.allow_http`, for
//! local mock receivers). Its host is resolved, and every address it
//! resolves to must be public: loopback (unless `service.allow_loopback`),
//! private, link-local (the cloud metadata address 169.254.169.254
//! included), CGNAT, unique-local, multicast, unspecified and reserved
//! ranges are refused, IPv4 inside IPv6 (mapped, NAT64) judged as the IPv4
//! it carries. The request is then sent to the checked address only
//! (reqwest's `resolve`), so a second DNS answer cannot swap it for an
//! internal one. Redirects are never followed: a 3xx fails the call, so a
//! public URL cannot bounce the request to an internal one. Every call has
//! a timeout, and an answer larger than `service.max_response_bytes` fails
//! it too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};

/// What may be called.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    pub allow_http: bool,
    pub allow_loopback: bool,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefused {
    #[error("not a valid absolute URL")]
    Malformed,
    #[error("scheme `{0}` is not allowed: use https")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("URLs with credentials are not allowed")]
    Credentials,
    #[error("`{host}` could not be resolved")]
    Unresolved { host: String },
    #[error("`{host}` resolves to {address}, which is not a public address")]
    Private { host: String, address: IpAddr },
}

/// Why a call failed: the delivery keeps this as its last error.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("target refused: {0}")]
    Refused(#[from] TargetRefused),
    #[error("the request could not be sent: {0}")]
    Transport(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("answered with a redirect ({0}), which is never followed")]
    Redirect(StatusCode),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

/// A URL whose host was resolved to a public address.
#[derive(Debug, Clone)]
pub struct CheckedTarget {
    pub url: Url,
    host: String,
    address: SocketAddr,
}

/// An answer read within the limits.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    /// `Retry-After` in seconds, when the answer had one.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The start of the body as text, for an error message.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(200).collect()
    }
}

impl OutboundPolicy {
    /// Parses `url` and checks its scheme and every address its host
    /// resolves to.
    pub async fn check(&self, url: &str) -> Result<CheckedTarget, TargetRefused> {
        let url = Url::parse(url).map_err(|_| TargetRefused::Malformed)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => return Err(TargetRefused::Scheme(other.to_owned())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetRefused::Credentials);
        }
        let host = url.host_str().ok_or(TargetRefused::NoHost)?.to_owned();
        let port = url.port_or_known_default().ok_or(TargetRefused::NoHost)?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|_| TargetRefused::Unresolved { host: host.clone() })?
                .collect(),
        };
        let first = *addresses
            .first()
            .ok_or_else(|| TargetRefused::Unresolved { host: host.clone() })?;
        for address in &addresses {
            if !self.is_allowed(address.ip()) {
                return Err(TargetRefused::Private {
                    host,
                    address: address.ip(),
                });
            }
        }
        Ok(CheckedTarget {
            url,
            host: bare.to_owned(),
            address: first,
        })
    }

    fn is_allowed(&self, ip: IpAddr) -> bool {
        let ip = embedded_ipv4(ip).map_or(ip, IpAddr::V4);
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        match ip {
            IpAddr::V4(v4) => is_public_v4(v4),
            IpAddr::V6(v6) => is_public_v6(v6),
        }
    }

    /// Checks `url`, then sends one request to the checked address with
    /// `headers` and `body`, reading at most `max_response_bytes` of the
    /// answer. A 3xx is an error; any other status is the caller's to judge.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, CallError> {
        let target = self.check(url).await?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .resolve(&target.host, target.address)
            .no_proxy()
            .build()
            .map_err(|e| CallError::Transport(e.to_string()))?;
        let mut request = client.request(method, target.url.clone());
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(CallError::Redirect(status));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if response
            .content_length()
            .is_some_and(|length| length > self.max_response_bytes as u64)
        {
            return Err(CallError::TooLarge(self.max_response_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(CallError::TooLarge(self.max_response_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// The error without its URL: a Slack webhook URL is itself a secret,
    /// and this text is kept as the delivery's last error.
    fn transport(&self, error: reqwest::Error) -> CallError {
        if error.is_timeout() {
            CallError::Timeout(self.timeout)
        } else {
            CallError::Transport(tenant_core::error::error_chain(&error.without_url()))
        }
    }
}

/// The IPv4 address an IPv6 address carries (mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`), judged as that address.
fn embedded_ipv4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = v6.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = v6.octets();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // CGNAT, 100.64.0.0/10
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24
        || (a == 192 && b == 0 && c == 0)
        // benchmarking, 198.18.0.0/15
        || (a == 198 && (b == 18 || b == 19))
        // reserved, 240.0.0.0/4
        || a >= 240;
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // unique local fc00::/7 (cloud metadata fd00:ec2::254 among them)
        || (first & 0xfe00) == 0xfc00
        // link local fe80::/10
        || (first & 0xffc0) == 0xfe80
        // site local fec0::/10 (deprecated)
        || (first & 0xffc0) == 0xfec0
        // documentation 2001:db8::/32
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // IPv4-compatible ::a.b.c.d (deprecated) and the rest of ::/96
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0];
    !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> OutboundPolicy {
        OutboundPolicy {
            allow_http: false,
            allow_loopback: false,
            timeout: Duration::from_secs(1),
            max_response_bytes: 1024,
        }
    }

    #[tokio::test]
    async fn internal_and_special_addresses_are_refused_in_production() {
        let policy = production();
        for url in [
            "https://127.0.0.1/hook",
            "https://127.1.2.3/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/hook",
            "https://172.16.5.4/hook",
            "https://192.168.1.1/hook",
            "https://100.64.0.1/hook",
            "https://0.0.0.0/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:169.254.169.254]/hook",
            "https://[64:ff9b::a00:1]/hook",
            "https://[fd00:ec2::254]/hook",
            "https://[fe80::1]/hook",
            "https://localhost/hook",
            "https://localhost:8443/hook",
        ] {
            let refused = policy.check(url).await.unwrap_err();
            assert!(
                matches!(refused, TargetRefused::Private { .. }),
                "{url}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn only_https_is_allowed_unless_http_is_enabled() {
        let policy = production();
        for (url, scheme) in [
            ("file:///etc/passwd", "file"),
            ("http://93.184.215.14/hook", "http"),
            ("ftp://93.184.215.14/", "ftp"),
            ("gopher://93.184.215.14/", "gopher"),
        ] {
            assert_eq!(
                policy.check(url).await.unwrap_err(),
                TargetRefused::Scheme(scheme.into()),
                "{url}"
            );
        }
        assert_eq!(
            policy
                .check("https://user:pw@93.184.215.14/")
                .await
                .unwrap_err(),
            TargetRefused::Credentials
        );
        assert_eq!(
            policy.check("not a url").await.unwrap_err(),
            TargetRefused::Malformed
        );
        let target = policy.check("https://93.184.215.14/hook").await.unwrap();
        assert_eq!(target.address, "93.184.215.14:443".parse().unwrap());
    }

    #[tokio::test]
    async fn the_test_setting_allows_loopback_and_nothing_else_private() {
        let policy = OutboundPolicy {
            allow_http: true,
            allow_loopback: true,
            ..production()
        };
        assert!(policy.check("http://127.0.0.1:9/hook").await.is_ok());
        assert!(policy.check("http://localhost:9/hook").await.is_ok());
        assert!(policy.check("http://[::1]:9/hook").await.is_ok());
        for url in [
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://100.64.0.1/",
        ] {
            assert!(policy.check(url).await.is_err(), "{url}");
        }
    }
}
