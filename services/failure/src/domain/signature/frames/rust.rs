//! Rust: backtraces (`  12: shop::cart::Cart::add::h1a2b3c4d5e6f7a8b`, then
//! `             at ./src/cart.rs:42:9`; with `RUST_BACKTRACE=full`,
//! `  12:     0x55d4c2a1b2c3 - shop::cart::Cart::add::h1a…`) and the panic
//! line (`thread 'cart::tests::adds' panicked at src/cart.rs:42:9:`).
//!
//! The module is the path, the function its last segment. The symbol hash,
//! the address, generic arguments and closure and shim segments
//! (`{{closure}}`, `{closure#0}`, `{{vtable.shim}}`) are dropped; a trait
//! method (`<shop::Cart as core::ops::Drop>::drop`) is reported under the
//! type that implements it.

use super::{Frame, PANIC_FUNCTION, remove_bracketed, strip_position};

/// An unresolved symbol, as the backtrace prints it.
const UNKNOWN: &str = "<unknown>";

/// `12: symbol`, or `12: 0x55d4c2a1b2c3 - symbol`. A symbol without a
/// path (`rust_begin_unwind`, `main`) only `in_backtrace`: alone,
/// `1: expected` is more likely a line of a message.
pub(super) fn numbered_frame(text: &str, in_backtrace: bool) -> Option<Frame> {
    let (index, symbol) = text.split_once(':')?;
    if !super::is_digits(index) {
        return None;
    }
    let symbol = symbol.trim_start();
    let symbol = match symbol.strip_prefix("0x") {
        Some(address) => address
            .split_once(" - ")
            .map_or(UNKNOWN, |(_, symbol)| symbol),
        None => symbol,
    };
    self::symbol(symbol.trim(), in_backtrace)
}

/// A symbol: a numbered line's, or one alone on its line (an inlined call
/// printed under a numbered one). One without a path only when
/// `bare_allowed`.
pub(super) fn symbol(text: &str, bare_allowed: bool) -> Option<Frame> {
    if text == UNKNOWN {
        return Some(Frame::new("", UNKNOWN, None));
    }
    let bare = bare_allowed && text.chars().all(|c| c.is_alphanumeric() || c == '_');
    if text.is_empty() || !(text.contains("::") || text.starts_with('<') || bare) {
        return None;
    }
    let path = implementing_type(without_hash(text))?;
    if remove_bracketed(&path, '<', '>').contains(char::is_whitespace) {
        return None;
    }
    let path = remove_bracketed(&path, '<', '>');
    let mut parts: Vec<&str> = path
        .split("::")
        .filter(|part| !part.is_empty() && !part.starts_with('{'))
        .collect();
    let function = parts.pop()?;
    Some(Frame::new(parts.join("::"), function, None))
}

/// A backtrace's `at ./src/cart.rs:42:9` line: the path.
pub(super) fn location(text: &str) -> Option<String> {
    strip_position(text.strip_prefix("at ")?.trim()).map(str::to_owned)
}

/// `thread 'main' panicked at src/main.rs:2:5:` (Rust 1.73 and later) or
/// `thread 'main' panicked at 'boom', src/main.rs:2:5`.
pub(super) fn panic_location(text: &str) -> Option<Frame> {
    if !text.starts_with("thread '") {
        return None;
    }
    let (_, rest) = text.split_once(" panicked at ")?;
    let location = match rest.strip_suffix(':') {
        Some(location) => location,
        None => rest
            .rsplit_once(", ")
            .map_or(rest, |(_, location)| location),
    };
    let file = strip_position(location.trim())?;
    Some(Frame::new("", PANIC_FUNCTION, Some(file)))
}

/// Without the legacy mangling's `::h0123456789abcdef`.
fn without_hash(symbol: &str) -> &str {
    match symbol.rsplit_once("::") {
        Some((path, hash))
            if hash.len() == 17
                && hash.starts_with('h')
                && hash[1..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            path
        }
        _ => symbol,
    }
}

/// `<shop::Cart as core::ops::Drop>::drop` -> `shop::Cart::drop`;
/// `<shop::Cart<T>>::add` -> `shop::Cart<T>::add`.
fn implementing_type(symbol: &str) -> Option<String> {
    let Some(inner) = symbol.strip_prefix('<') else {
        return Some(symbol.to_owned());
    };
    let mut depth = 1usize;
    let close = inner.char_indices().find_map(|(index, c)| {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            _ => {}
        }
        (depth == 0).then_some(index)
    })?;
    let self_type = inner[..close].split(" as ").next().unwrap_or_default();
    let self_type = self_type
        .trim_start_matches('&')
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ");
    Some(format!("{self_type}{}", &inner[close + 1..]))
}
