//! Go: a call (`example.com/shop/cart.(*Cart).Add(0xc000010000, ...)`)
//! followed by its location (`\t/app/cart/cart.go:42 +0x1d`), under a
//! `goroutine 1 [running]:` header.
//!
//! The module is the package path, with the receiver type when there is one
//! (`example.com/shop/cart.Cart`, as a JVM class); the function is the
//! function or method. Arguments, closure numbers (`func1`, `.2`),
//! `gowrap`/`deferwrap` wrappers, generic arguments (`[...]`) and the
//! program counter offset (`+0x1d`) are dropped. Go prints the runtime's
//! `gopanic` as a bare `panic`, reported as `runtime` `panic`.

use super::{Frame, is_digits, remove_bracketed};

/// A call line, still without its file: `None` unless it looks like one
/// (a qualified name without spaces, then an argument list).
pub(super) fn call(text: &str) -> Option<Frame> {
    let body = text.strip_suffix(')')?;
    let mut depth = 0usize;
    let mut open = None;
    for (index, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => {
                open = Some(index);
                break;
            }
            '(' => depth -= 1,
            _ => {}
        }
    }
    let name = &body[..open?];
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let name = remove_bracketed(name, '[', ']');
    let package_end = name.rfind('/').map_or(0, |slash| slash + 1);
    let (package, symbol) = match name[package_end..].find('.') {
        Some(dot) => (&name[..package_end + dot], &name[package_end + dot + 1..]),
        None if name == "panic" => ("runtime", name.as_str()),
        None => return None,
    };
    let parts: Vec<&str> = symbol
        .split('.')
        .filter(|part| !is_closure(part))
        .map(|part| {
            part.trim_start_matches("(*")
                .trim_start_matches('(')
                .trim_end_matches(')')
        })
        .collect();
    match parts.as_slice() {
        [] => None,
        [function] => Some(Frame::new(package, *function, None)),
        [receiver, rest @ ..] => Some(Frame::new(
            format!("{package}.{receiver}"),
            rest.join("."),
            None,
        )),
    }
}

/// A call's location line: `/app/cart/cart.go:42 +0x1d`; the path.
pub(super) fn location(text: &str) -> Option<String> {
    let text = text
        .split_once(" +0x")
        .map_or(text, |(location, _)| location);
    let (path, line) = text.rsplit_once(':')?;
    let source = path.ends_with(".go") || path.ends_with(".s");
    (source && is_digits(line)).then(|| path.to_owned())
}

/// `goroutine 1 [running]:`.
pub(super) fn is_goroutine_header(text: &str) -> bool {
    text.strip_prefix("goroutine ")
        .and_then(|rest| rest.split_once(" ["))
        .is_some_and(|(id, _)| is_digits(id))
        && text.ends_with(':')
}

/// `func1`, `2` (a closure in a closure), `gowrap1`, `deferwrap1`.
fn is_closure(part: &str) -> bool {
    part.is_empty()
        || is_digits(part)
        || ["func", "gowrap", "deferwrap"]
            .iter()
            .any(|prefix| part.strip_prefix(prefix).is_some_and(is_digits))
}
