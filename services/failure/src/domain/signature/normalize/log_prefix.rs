//! The log prefix in front of a message (see [`super`]): the same
//! message logged at another time, by another thread, is the same failure.

use std::sync::LazyLock;

use regex::Regex;

use super::{DATE, TIME, TIMESTAMP, compile};

/// Log levels recognised in a prefix (Java, log4j/logback, Python, syslog).
const LEVELS: &[&str] = &[
    "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "SEVERE", "FATAL", "CRITICAL",
    "FINE", "FINER", "FINEST", "CONFIG",
];

/// Endings of exception type names, which look like loggers in `Name: text`.
const EXCEPTION_ENDINGS: &[&str] = &[
    "Exception",
    "Error",
    "Throwable",
    "Failure",
    "Fault",
    "Warning",
    "Exit",
    "Interrupt",
];

/// A timestamp or time (in brackets or not) at the start, with the
/// separator after it.
static LEADING_TIME: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"^(?-u:\[?(?:{TIMESTAMP}|{DATE}|{TIME})\]?(?: - | \| |: | |$))"
    ))
});

/// The message without the log prefix described in [`super`]'s
/// documentation. A prefix that is the whole message is kept (its values
/// are masked instead), so no message normalises to nothing.
pub(super) fn strip_log_prefix(line: &str) -> &str {
    let (rest, had_time) = match LEADING_TIME.find(line) {
        Some(time) => (&line[time.end()..], true),
        None => (line, false),
    };
    let with_level = strip_level(rest)
        .or_else(|| strip_thread(rest).and_then(strip_level))
        .or_else(|| {
            had_time.then_some(())?;
            let (logger, after) = split_logger(rest)?;
            let (message, separator) = strip_level(after.strip_prefix(" - ")?)?;
            (!logger.is_empty() && separator == LevelSeparator::Dash)
                .then_some((message, separator))
        });
    let stripped = match with_level {
        Some((after_level, separator)) => {
            let after_thread = strip_thread(after_level).unwrap_or(after_level);
            strip_logger(after_thread, separator)
        }
        None if had_time => rest,
        None => line,
    };
    if stripped.is_empty() { line } else { stripped }
}

/// What follows a level tells how a logger name after it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LevelSeparator {
    /// `ERROR message`, `[ERROR] message`, `ERROR: message`.
    Space,
    /// `ERROR - message`.
    Dash,
    /// Python's default `ERROR:logger:message`.
    Colon,
}

fn strip_level(text: &str) -> Option<(&str, LevelSeparator)> {
    if let Some(inner) = text.strip_prefix('[') {
        let (level, rest) = inner.split_once(']')?;
        return LEVELS.contains(&level).then(|| {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            (rest, LevelSeparator::Space)
        });
    }
    let level_len = text.bytes().take_while(u8::is_ascii_uppercase).count();
    if !LEVELS.contains(&&text[..level_len]) {
        return None;
    }
    let rest = &text[level_len..];
    if let Some(message) = rest.strip_prefix(": ") {
        Some((message, LevelSeparator::Space))
    } else if let Some(message) = rest.strip_prefix(" - ") {
        Some((message, LevelSeparator::Dash))
    } else if let Some(message) = rest.strip_prefix(':') {
        Some((message, LevelSeparator::Colon))
    } else {
        rest.strip_prefix(' ')
            .map(|message| (message, LevelSeparator::Space))
    }
}

/// `[thread name] ` (up to 80 characters, no nested bracket).
fn strip_thread(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('[')?;
    let (thread, rest) = inner.split_once(']')?;
    let plain = !thread.is_empty() && thread.len() <= 80 && !thread.contains('[');
    plain.then(|| rest.strip_prefix(' ').unwrap_or(rest))
}

/// A logger name at the start (`com.example.Cart`, `o.e.Cart`, `root`) and
/// what follows it.
fn split_logger(text: &str) -> Option<(&str, &str)> {
    if !text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let len = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'))
        .count();
    Some(text.split_at(len))
}

fn strip_logger(text: &str, separator: LevelSeparator) -> &str {
    let Some((logger, rest)) = split_logger(text) else {
        return text;
    };
    if separator == LevelSeparator::Colon {
        return rest.strip_prefix(':').unwrap_or(text);
    }
    if let Some(message) = rest.strip_prefix(" - ") {
        return message;
    }
    let exception_like = logger.rsplit('.').next().is_some_and(|name| {
        EXCEPTION_ENDINGS
            .iter()
            .any(|ending| name.ends_with(ending))
    });
    match rest.strip_prefix(": ") {
        Some(message) if logger.contains('.') && !exception_like => message,
        _ => text,
    }
}
