//! Python tracebacks (`  File "/app/shop/cart.py", line 42, in add_item`)
//! and pytest's own report of them (`shop/cart.py:42: in add_item`, or
//! `tests/test_cart.py:5: ` after the excerpt of the function, whose
//! `def` names it).
//!
//! Python names no module in a frame, so the module stays empty and the
//! key uses the file's name. Both print the most recent call last.

use super::{Frame, is_digits};

/// The function of code outside any function, as Python names it.
const MODULE_LEVEL: &str = "<module>";

/// A traceback line without its `File "`.
pub(super) fn frame(rest: &str) -> Option<Frame> {
    let (path, rest) = rest.split_once("\", line ")?;
    // A `SyntaxError` names a place, not a call: module-level code.
    let function = rest
        .split_once(", in ")
        .map_or(MODULE_LEVEL, |(_, function)| function.trim());
    Some(Frame::new("", function, Some(path)))
}

/// The line before a traceback, or between two of a chain.
pub(super) fn starts_traceback(text: &str) -> bool {
    text.starts_with("Traceback (most recent call last)")
        || text == "During handling of the above exception, another exception occurred:"
        || text == "The above exception was the direct cause of the following exception:"
}

/// pytest's `path.py:42: in function`, or `path.py:42: ` and
/// `path.py:42: ValueError` after an excerpt whose `def` was `definition`
/// (taken: the next excerpt has its own).
pub(super) fn pytest_location(text: &str, definition: &mut Option<String>) -> Option<Frame> {
    let end = text.find(".py:")? + 3;
    let path = &text[..end];
    if path.contains(char::is_whitespace) {
        return None;
    }
    let (line, rest) = text[end + 1..].split_once(':')?;
    if !is_digits(line) {
        return None;
    }
    let definition = definition.take();
    let function = match rest.trim().strip_prefix("in ") {
        Some(function) => function.trim().to_owned(),
        None => definition.unwrap_or_else(|| MODULE_LEVEL.to_owned()),
    };
    Some(Frame::new("", function, Some(path)))
}

/// The name in a `def name(` line of a pytest excerpt.
pub(super) fn pytest_definition(text: &str) -> Option<String> {
    let text = text.strip_prefix("async ").unwrap_or(text);
    let (name, _) = text.strip_prefix("def ")?.split_once('(')?;
    let name = name.trim();
    let identifier = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    identifier.then(|| name.to_owned())
}
