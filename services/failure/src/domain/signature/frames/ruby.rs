//! Ruby: `/app/lib/cart.rb:42:in 'add'` (Ruby 3.4; before it
//! `` `add' ``), with `from ` before the lines after the first, or `# `
//! in RSpec's output.
//!
//! Before 3.4 Ruby names no class in a frame, so the module stays empty
//! and the key uses the file's name; 3.4's `Cart#add` and `Cart.create`
//! give the class as the module. Blocks (`block in add`,
//! `block (2 levels) in add`), `rescue in` and `ensure in` are named after
//! the method they are written in; `<main>`, `<top (required)>` and
//! `<class:Cart>` stay as printed.

use super::{Frame, is_digits};

pub(super) fn frame(text: &str) -> Option<Frame> {
    let text = text
        .strip_prefix("from ")
        .or_else(|| text.strip_prefix("# "))
        .unwrap_or(text);
    let (place, label) = text.split_once(":in ")?;
    let (path, line) = place.rsplit_once(':')?;
    if !is_digits(line) || path.is_empty() || path.contains(char::is_whitespace) {
        return None;
    }
    let label = label.strip_prefix(['`', '\''])?;
    let mut label = &label[..label.find('\'')?];
    while label.starts_with("block ")
        || label.starts_with("rescue in ")
        || label.starts_with("ensure in ")
    {
        label = label.split_once(" in ")?.1;
    }
    let (module, function) = match label.rfind('#') {
        _ if label.starts_with('<') => ("", label),
        Some(hash) => (&label[..hash], &label[hash + 1..]),
        None => match label.rsplit_once('.') {
            Some((class, method)) if class.starts_with(|c: char| c.is_ascii_uppercase()) => {
                (class, method)
            }
            _ => ("", label),
        },
    };
    Some(Frame::new(module, function, Some(path)))
}
