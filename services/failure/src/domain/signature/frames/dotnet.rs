//! .NET: `at Shop.Cart.CartService.Add(Item item) in C:\src\Cart.cs:line 42`.
//!
//! The module is the type, the function the method. Compiler-generated
//! types and methods are named after the method they were written in:
//! async state machines (`<AddAsync>d__5.MoveNext`), lambdas
//! (`<>c__DisplayClass1_0.<Add>b__0`, `<>c.<Add>b__1_0`) and local
//! functions (`<Add>g__Local|0_0`). Generic arities (`` `1 ``), generic
//! arguments (`[T]`) and F# closure numbers (`add@42-1`) are dropped.

use super::{Frame, remove_bracketed};

/// A frame from the qualified method `name` (before the parameter list)
/// and what follows the list (` in C:\src\Cart.cs:line 42`, or nothing).
pub(super) fn frame(name: &str, after: &str) -> Option<Frame> {
    let name = without_arity(&remove_bracketed(name, '[', ']'));
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let (module, function) = split_name(&name)?;
    Some(Frame::new(module, function, file(after)))
}

/// The path of ` in C:\src\Cart.cs:line 42` (the word before the path and
/// the one before the number are translated on localised runtimes).
fn file(after: &str) -> Option<&str> {
    let (_, location) = after.split_once(' ')?;
    let location = location.trim();
    match location.rsplit_once(':') {
        Some((path, line))
            if line.bytes().any(|b| b.is_ascii_digit()) && !line.contains(['/', '\\']) =>
        {
            Some(path)
        }
        _ => Some(location).filter(|location| !location.is_empty()),
    }
}

/// `Repo`1.Get` -> `Repo.Get`.
fn without_arity(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            while chars.next_if(char::is_ascii_digit).is_some() {}
        } else {
            out.push(c);
        }
    }
    out
}

fn split_name(name: &str) -> Option<(String, String)> {
    // Constructors: `Shop.Cart..ctor`, `Shop.Cart..cctor`.
    if let Some(dot) = name.find("..") {
        return Some((name[..dot].to_owned(), name[dot + 1..].to_owned()));
    }
    let parts: Vec<&str> = split_outside_angles(name)
        .into_iter()
        .map(|part| part.split_once('@').map_or(part, |(name, _)| name))
        .collect();
    let (last, _) = parts.split_last()?;
    match parts.iter().position(|part| part.starts_with('<')) {
        Some(generated) if generated > 0 => {
            let function = parts[generated..]
                .iter()
                .find_map(|part| written_in(part))
                .unwrap_or(last);
            Some((parts[..generated].join("."), function.to_owned()))
        }
        _ => Some((parts[..parts.len() - 1].join("."), (*last).to_owned())),
    }
}

/// The method a generated name was written in: `<Add>b__0` -> `Add`;
/// `None` for `<>c`.
fn written_in(part: &str) -> Option<&str> {
    let inner = part.strip_prefix('<')?;
    let mut depth = 1usize;
    for (index, c) in inner.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    let name = inner[..index].trim_start_matches('<');
                    let name = name.split_once('>').map_or(name, |(name, _)| name);
                    return Some(name).filter(|name| !name.is_empty());
                }
            }
            _ => {}
        }
    }
    None
}

/// `a.<b.c>d.e` -> `a`, `<b.c>d`, `e`.
fn split_outside_angles(name: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, c) in name.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                parts.push(&name[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&name[start..]);
    parts
}
