//! JavaScript and TypeScript: V8 (Node, Chrome, Deno, Bun:
//! `at CartService.add (/app/src/cart.ts:42:13)`) and Firefox or Safari
//! (`add@http://localhost/cart.js:42:13`).
//!
//! JavaScript names no module a function belongs to, so the module stays
//! empty and the function keeps its receiver (`CartService.add`,
//! `Object.<anonymous>`); the key uses the file's name. `async`, aliases
//! (`[as addItem]`), Firefox's async and nesting marks and a URL's query
//! (a cache buster) are dropped. Built-in code (`Promise.all (index 0)`,
//! `<anonymous>`, `[native code]`) has no file.

use super::{Frame, strip_position};

/// The function of an anonymous function's frame, as V8 names it.
const ANONYMOUS: &str = "<anonymous>";

/// A V8 frame from an `at` line without the `at `.
pub(super) fn v8_frame(call: &str) -> Option<Frame> {
    let call = call.strip_prefix("async ").unwrap_or(call);
    if let Some(open) = call.find(" (")
        && let Some(inside) = call[open + 2..].strip_suffix(')')
    {
        let name = &call[..open];
        let name = name.split_once(" [as ").map_or(name, |(name, _)| name);
        // `eval at <anonymous> (file.js:1:1), <anonymous>:1:1`: where the
        // evaluated code ran is last.
        let location = match inside.strip_prefix("eval at ") {
            Some(eval) => eval.rsplit_once(", ").map_or(eval, |(_, ran)| ran),
            None => inside,
        };
        let file = if is_builtin(location) {
            None
        } else {
            Some(clean_url(strip_position(location)?)).filter(|file| !is_builtin(file))
        };
        return Some(Frame::new("", name, file));
    }
    // `at /app/src/x.js:1:2`: an anonymous function.
    let file = strip_position(call)?;
    if file.is_empty() || file.contains(char::is_whitespace) {
        return None;
    }
    Some(Frame::new("", ANONYMOUS, Some(clean_url(file))))
}

/// A Firefox or Safari line: `add@http://localhost/cart.js:42:13`,
/// `Cart.prototype.add/<@…`, `async*add@…`, `global code@…`,
/// `forEach@[native code]`.
pub(super) fn firefox_frame(line: &str) -> Option<Frame> {
    let (name, location) = line.split_once('@')?;
    let file = if location == "[native code]" {
        None
    } else {
        let file = strip_position(location)?;
        if file.is_empty() || file.contains(char::is_whitespace) {
            return None;
        }
        Some(clean_url(file))
    };
    let name = name.rsplit_once('*').map_or(name, |(_, name)| name);
    if name.contains(char::is_whitespace)
        && !matches!(name, "global code" | "module code" | "eval code")
    {
        return None;
    }
    let name = name.replace("/<", "");
    let name = name.trim_end_matches('<');
    let function = if name.is_empty() { ANONYMOUS } else { name };
    Some(Frame::new("", function, file))
}

/// V8's locations of code that has no file.
fn is_builtin(location: &str) -> bool {
    matches!(location, "<anonymous>" | "native" | "unknown location")
        || location.starts_with("index ")
}

/// Without a query or fragment (`cart.js?v=1a2b`).
fn clean_url(file: &str) -> &str {
    file.split(['?', '#']).next().unwrap_or(file)
}
