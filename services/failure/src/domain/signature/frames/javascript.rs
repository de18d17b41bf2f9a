//! JavaScript and TypeScript: V8 (Node, Chrome, Deno, Bun:
//! `at CartService.add (/app/src/cart.ts:42:13)`) and Firefox or Safari
//! (`add@http://localhost/cart.js:42:13`).
//!
//! JavaScript names no module a function belongs to, so the module stays
//! empty and the function keeps its receiver (`CartService.add`,
//! `Object.<anonymous>`); the key uses the file's name. `async`, aliases
//! (`[as addItem]`), Firefox's async and nesting marks, a URL's query (a
//! cache buster) and a bundle's content hash (`checkout.09662ce6.js`,
//! `index-BdQq_4o7.js`) are dropped. Built-in code
//! (`Promise.all (index 0)`, `<anonymous>`, `[native code]`) has no file.

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
            let path = strip_position(location)?;
            (!is_builtin(path)).then(|| source_file(path))
        };
        return Some(Frame::new("", name, file.as_deref()));
    }
    // `at /app/src/x.js:1:2`: an anonymous function.
    let file = strip_position(call)?;
    if file.is_empty() || file.contains(char::is_whitespace) {
        return None;
    }
    Some(Frame::new("", ANONYMOUS, Some(&source_file(file))))
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
        Some(source_file(file))
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
    Some(Frame::new("", function, file.as_deref()))
}

/// V8's locations of code that has no file.
fn is_builtin(location: &str) -> bool {
    matches!(location, "<anonymous>" | "native" | "unknown location")
        || location.starts_with("index ")
}

/// The file without a URL's query or fragment (`cart.js?v=1a2b`) and
/// without the content hash a bundler puts in its name
/// (`checkout.09662ce6.js`, `main.1a2b3c4d.chunk.js`, `index-BdQq_4o7.js`):
/// both change with every build.
fn source_file(location: &str) -> String {
    let path = location.split(['?', '#']).next().unwrap_or(location);
    let name_start = path.rfind(['/', '\\']).map_or(0, |slash| slash + 1);
    let (directory, name) = path.split_at(name_start);
    let parts: Vec<&str> = name.split('.').collect();
    let last = parts.len() - 1;
    // The first part is the name and the last the extension; a hash sits
    // between them, or after a `-` at the end of the name.
    let mut parts: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(index, part)| *index == 0 || *index == last || !is_content_hash(part))
        .map(|(_, part)| *part)
        .collect();
    if parts.len() > 1
        && let Some((stem, hash)) = parts[0].rsplit_once('-')
        && !stem.is_empty()
        && is_content_hash(hash)
    {
        parts[0] = stem;
    }
    format!("{directory}{}", parts.join("."))
}

/// Eight or more letters, digits or `_` with a digit among them, either
/// lower-case hexadecimal or mixing cases (base64url): a hash, not a word.
fn is_content_hash(part: &str) -> bool {
    let bytes = part.as_bytes();
    let has = |test: fn(&u8) -> bool| bytes.iter().any(test);
    (8..=64).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && has(u8::is_ascii_digit)
        && (bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            || (has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase)))
}
