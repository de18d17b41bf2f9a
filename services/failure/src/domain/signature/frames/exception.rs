//! The exception type a trace or message names.

use super::{is_digits, python};

/// What [`exception_type`] gives for a Rust or Go panic: neither names a
/// type.
pub const PANIC_TYPE: &str = "panic";

/// Names that end an unqualified type name: `ValueError`, `TypeError`,
/// `AssertionError`, `KeyboardInterrupt`. A qualified name
/// (`java.lang.IllegalStateException`) needs none; an unqualified word
/// without one (`Expected: 1`) is a message.
const TYPE_SUFFIXES: [&str; 8] = [
    "Error",
    "Exception",
    "Failure",
    "Fault",
    "Exit",
    "Interrupt",
    "Iteration",
    "Throwable",
];

/// The exception type `trace`, or else `message`, names; the same
/// exception whose frames `parse_frames` returns:
///
/// - a Rust panic (`thread '…' panicked at`) or a Go panic (`panic: …`):
///   [`PANIC_TYPE`];
/// - JVM: the root cause, the last `Caused by: org.x.Y` (outside
///   `Suppressed:` sections), else the first line
///   (`java.lang.IllegalStateException: …`);
/// - Python: the line that ends the last traceback (`ValueError: …`);
///   pytest: the type after its last location (`tests/t.py:5: ValueError`)
///   or its first `E   ValueError: …` line;
/// - .NET: the innermost `---> System.X: …`, else the first line
///   (`System.InvalidOperationException: …`, NUnit's `Type : message`);
/// - Ruby: the first line's `(NoMethodError)`;
/// - JavaScript and anything else: the first line (`TypeError: …`,
///   `AssertionError [ERR_ASSERTION]: …`) when it starts with a type name.
pub fn exception_type(message: &str, trace: &str) -> Option<String> {
    from_text(trace)
        .or_else(|| from_text(message))
        .map(str::to_owned)
}

fn from_text(text: &str) -> Option<&str> {
    if text.trim().is_empty() {
        return None;
    }
    if is_panic(text) {
        return Some(PANIC_TYPE);
    }
    jvm_root_cause(text)
        .or_else(|| python_exception(text))
        .or_else(|| pytest_exception(text))
        .or_else(|| dotnet_inner_exception(text))
        .or_else(|| ruby_exception(text))
        .or_else(|| {
            text.lines()
                .find(|line| !line.trim().is_empty())
                .and_then(line_type)
        })
}

fn is_panic(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim();
        line.starts_with("panic: ")
            || (line.starts_with("thread '") && line.contains("' panicked at "))
    })
}

fn jvm_root_cause(text: &str) -> Option<&str> {
    let mut root: Option<(usize, &str)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let Some(cause) = trimmed.strip_prefix("Caused by:") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        if let Some(found) = line_type(cause.trim())
            && root.is_none_or(|(root_indent, _)| indent <= root_indent)
        {
            root = Some((indent, found));
        }
    }
    root.map(|(_, found)| found)
}

/// The first line after the last `Traceback` header that is indented no
/// deeper than the header: frames and source lines are indented under it.
fn python_exception(text: &str) -> Option<&str> {
    let mut header_indent = None;
    let mut exception = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("Traceback (most recent call last)") {
            header_indent = Some(indent);
            exception = None;
        } else if let Some(header) = header_indent
            && exception.is_none()
            && !trimmed.is_empty()
            && indent <= header
            && !python::starts_traceback(trimmed)
        {
            exception = Some(line_type(trimmed));
        }
    }
    exception.flatten()
}

fn pytest_exception(text: &str) -> Option<&str> {
    let located = text.lines().rev().find_map(|line| {
        let (place, rest) = line.trim().split_once(".py:")?;
        let (number, rest) = rest.split_once(": ")?;
        (!place.contains(char::is_whitespace) && is_digits(number))
            .then(|| rest.trim())
            .filter(|name| is_type_name(name))
    });
    located.or_else(|| {
        text.lines()
            .filter_map(|line| line.strip_prefix("E "))
            .find_map(|line| line_type(line.trim()))
    })
}

/// The last `---> Type: message`, on a line of its own or after the outer
/// exception's message.
fn dotnet_inner_exception(text: &str) -> Option<&str> {
    text.lines().rev().find_map(|line| {
        let inner = line
            .trim_start()
            .strip_prefix("---> ")
            .or_else(|| line.rsplit_once(" ---> ").map(|(_, inner)| inner))?;
        line_type(inner.trim())
    })
}

/// `/app/lib/cart.rb:42:in 'add': undefined method 'x' (NoMethodError)`.
fn ruby_exception(text: &str) -> Option<&str> {
    let first = text.lines().find(|line| !line.trim().is_empty())?.trim();
    if !first.contains(":in ") {
        return None;
    }
    let (_, name) = first.strip_suffix(')')?.rsplit_once('(')?;
    Some(name).filter(|name| is_type_name(name))
}

/// The type a line starts with: `Type`, `Type: message`,
/// `Type : message` (NUnit), `Type [CODE]: message` (Node).
fn line_type(line: &str) -> Option<&str> {
    let head = type_head(line);
    let head = head
        .split_once(" [")
        .map_or(head, |(name, _)| name)
        .trim_end();
    Some(head).filter(|name| is_type_name(name))
}

/// What comes before the first `:` that is not part of a `::`.
fn type_head(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b':' {
            if bytes.get(index + 1) == Some(&b':') {
                index += 2;
                continue;
            }
            return &line[..index];
        }
        index += 1;
    }
    line
}

/// A type name: identifiers joined by `.`, `::`, `$` or `+`, the last one
/// capitalised, and one of [`TYPE_SUFFIXES`] when there is only one.
fn is_type_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 200 || name.starts_with(['.', '$', '+', ':']) {
        return false;
    }
    let parts: Vec<&str> = name
        .split(['.', '$', '+', ':'])
        .filter(|part| !part.is_empty())
        .collect();
    let identifiers = parts.iter().all(|part| {
        part.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '`')
            && !part.starts_with(|c: char| c.is_ascii_digit())
    });
    let Some(last) = parts.last() else {
        return false;
    };
    identifiers
        && last.starts_with(|c: char| c.is_uppercase())
        && (parts.len() > 1 || TYPE_SUFFIXES.iter().any(|suffix| last.ends_with(suffix)))
}
