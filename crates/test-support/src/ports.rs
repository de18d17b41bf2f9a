//! Ports for services a test starts later.

#![allow(
    clippy::expect_used,
    reason = "test support fails the test at once, with the reason, when the environment is not usable"
)]

/// A port for a service a test starts later, after another service has
/// been told its address.
///
/// Binding port 0 and letting it go races every other test binding port 0
/// in parallel: the kernel may hand the same port out again before the
/// service takes it. This port is picked below the kernel's ephemeral range
/// (`ip_local_port_range`), where no port-0 bind lands, is free when picked,
/// and is never handed out twice in one process.
pub fn later_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let low = 10_000_u16;
    let span = ephemeral_low.saturating_sub(low).max(1);
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    loop {
        let random = u16::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..2]
                .try_into()
                .expect("two bytes"),
        );
        let port = low + random % span;
        if !handed_out.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
}
