//! What the commands print: results on stdout, progress and notes on
//! stderr (so `--json` output stays parseable), a progress bar only when
//! stderr is a terminal, plain lines in a CI log.

use std::io::{IsTerminal, Write};

/// Where a command writes.
#[derive(Debug)]
pub struct Output {
    stdout: std::io::Stdout,
    stderr: std::io::Stderr,
    terminal: bool,
}

impl Default for Output {
    fn default() -> Self {
        Self::new()
    }
}

impl Output {
    pub fn new() -> Self {
        let stderr = std::io::stderr();
        let terminal = stderr.is_terminal();
        Self {
            stdout: std::io::stdout(),
            stderr,
            terminal,
        }
    }

    /// Whether stdout is a terminal (tables get padded columns either way).
    pub fn stdout_is_terminal(&self) -> bool {
        self.stdout.is_terminal()
    }

    /// A line of the command's result. A closed stdout (`| head`) is not
    /// an error worth reporting.
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.stdout, "{text}");
    }

    /// A note about what is happening, on stderr.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.stderr, "faultline: {text}");
    }

    /// Progress of `done` out of `total` steps: a redrawn bar on a
    /// terminal, one line per step otherwise.
    pub fn progress(&mut self, done: usize, total: usize, detail: &str) {
        if self.terminal {
            const WIDTH: usize = 30;
            let filled = (done * WIDTH)
                .checked_div(total)
                .unwrap_or(WIDTH)
                .min(WIDTH);
            let bar = format!("{}{}", "#".repeat(filled), " ".repeat(WIDTH - filled));
            let _ = write!(self.stderr, "\r\x1b[2K[{bar}] {done}/{total} {detail}");
            if done >= total {
                let _ = writeln!(self.stderr);
            }
            let _ = self.stderr.flush();
        } else {
            self.note(&format!("{done}/{total} {detail}"));
        }
    }
}

/// Rows as aligned columns under a header; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == last {
                    (*cell).to_owned()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut lines = vec![render(header.to_vec())];
    lines.extend(
        rows.iter()
            .map(|row| render(row.iter().map(String::as_str).collect())),
    );
    lines
}

/// `1 request`, `3 requests`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The first line of `text`, at most `max` characters.
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_long_text_is_cut() {
        let lines = table(
            &["STATE", "TEST"],
            &[
                vec!["flaky".to_owned(), "a".to_owned()],
                vec!["broken".to_owned(), "b".to_owned()],
            ],
        );
        assert_eq!(lines, ["STATE   TEST", "flaky   a", "broken  b"]);
        assert_eq!(excerpt("abcdef\nsecond", 4), "abc…");
    }
}
