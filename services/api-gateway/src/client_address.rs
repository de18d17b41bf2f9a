//! Who the client is, by address: decided once, here, and handed to the
//! backends inside the context token.
//!
//! `X-Forwarded-For` is a list every proxy appends its peer to, so only the
//! entries written by proxies we run can be believed: walking from the
//! right, each trusted hop vouches for the entry before it, and the first
//! address that is not one of our proxies is the client. Anything further
//! left was written by the client and may be made up. When the TCP peer is
//! not a trusted proxy, the header is ignored altogether.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use tenant_core::config::TrustedProxies;

/// The client address of `req`: the right-most `X-Forwarded-For` address
/// that is not a trusted proxy, when the peer is one; else the peer.
pub fn client_address(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|addr| addr.ip().to_canonical())?;
    let forwarded_for: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    Some(resolve(peer, &forwarded_for, trusted))
}

fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer.to_canonical();
    for entry in forwarded_for.iter().rev() {
        if !trusted.contains(client) {
            break;
        }
        // A trusted proxy wrote something that is not an address: nothing
        // before it can be attributed, so the proxy itself is the client.
        let Some(address) = parse_entry(entry) else {
            break;
        };
        client = address;
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, or either with a port (`[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert_eq!(
            resolve(ip("198.51.100.1"), &["203.0.113.9"], &none),
            ip("198.51.100.1")
        );
        assert_eq!(resolve(ip("198.51.100.1"), &[], &none), ip("198.51.100.1"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_even_when_trusted_proxies_are_configured() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            resolve(ip("198.51.100.1"), &["10.0.0.5", "203.0.113.9"], &proxies),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_address_is_the_client() {
        let proxies = trusted("10.0.0.0/8, 192.0.2.1");
        // client -> CDN edge (trusted, appended the client) -> ingress (peer)
        assert_eq!(
            resolve(
                ip("10.1.2.3"),
                &["6.6.6.6", " 203.0.113.9", "192.0.2.1"],
                &proxies
            ),
            ip("203.0.113.9"),
            "the spoofed left-most entry is ignored"
        );
        assert_eq!(
            resolve(ip("10.1.2.3"), &["203.0.113.9"], &proxies),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_without_a_forwarded_address_is_the_client() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(resolve(ip("10.1.2.3"), &[], &proxies), ip("10.1.2.3"));
        // Every hop trusted: the furthest one known.
        assert_eq!(
            resolve(ip("10.1.2.3"), &["10.9.9.9", "10.4.4.4"], &proxies),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn garbage_from_a_trusted_proxy_stops_the_walk_at_that_proxy() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            resolve(ip("10.1.2.3"), &["203.0.113.9", "unknown"], &proxies),
            ip("10.1.2.3")
        );
        assert_eq!(
            resolve(
                ip("10.1.2.3"),
                &["203.0.113.9", "10.4.4.4", "nonsense"],
                &proxies
            ),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn entries_may_carry_ports_and_ipv4_mapped_addresses_are_ipv4() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            resolve(ip("::ffff:10.1.2.3"), &["203.0.113.9:51234"], &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("10.1.2.3"), &["[2001:db8::7]:443"], &proxies),
            ip("2001:db8::7")
        );
        assert_eq!(
            resolve(ip("10.1.2.3"), &["::ffff:203.0.113.9"], &proxies),
            ip("203.0.113.9")
        );
    }
}
