//! Stack traces into frames, whatever the language.
//!
//! A trace is read line by line, each line tried against the shapes the
//! runtimes print (one file per family: `jvm` for Java, Kotlin and Scala,
//! `python` with pytest, `javascript` for V8, Firefox and Safari, `go`,
//! `rust`, `dotnet`, `ruby`). Whatever changes from run to run or from
//! build to build without the code changing (line and column numbers,
//! lambda, closure and anonymous class numbers, generated proxy suffixes,
//! symbol hashes, addresses, arguments) is dropped, so the same code at
//! shifted lines gives the same frames. Lines that are no frame (messages,
//! source excerpts, log output) are skipped. Hand-written scanners, no
//! regular expressions: 5,000 traces of 40 frames parse in about 0.1 s
//! in a release build.
//!
//! A trace may hold several exceptions; [`parse_frames`] returns the stack
//! of one of them, top of stack (the innermost call) first:
//!
//! - JVM: the root cause, the last `Caused by:` section, completed with the
//!   frames its `... N more` leaves out (the last N of the trace that
//!   encloses it). A wrapper (`ExecutionException`,
//!   `InvocationTargetException`) says little; the failure started in its
//!   root cause. `Suppressed:` sections are skipped.
//! - .NET: the innermost exception, whose frames are printed first, up to
//!   `--- End of inner exception stack trace ---`.
//! - Python and pytest: the last traceback of a chain, the one the last
//!   line names (what the test runner reports).
//! - Go: the first goroutine, the one that panicked. `created by` lines are
//!   not calls and are skipped.
//! - Rust: the backtrace; without one, the panic's location
//!   (`thread '…' panicked at src/cart.rs:42:9:`) as a frame named
//!   [`PANIC_FUNCTION`].
//!
//! When the chosen exception has no frames of its own, the one enclosing it
//! is taken. Python and pytest print the most recent call last; their
//! frames are reversed. Consecutive frames with the same key (a lambda and
//! the method it was written in, a proxy and the method it stands for,
//! recursion) count once: the top one is kept.

mod dotnet;
mod exception;
mod go;
mod javascript;
mod jvm;
mod python;
mod ruby;
mod rust;

#[cfg(test)]
mod tests;

pub use exception::{PANIC_TYPE, exception_type};

/// What separates a frame's module (or file name) from its function in
/// [`Frame::key`]: `com.shop.cart.CartService::add`, `cart.py::add_item`,
/// `shop::cart::Cart::add`. No language's qualified names use it between a
/// type and its method except Rust, where it reads as the path it is.
pub const KEY_SEPARATOR: &str = "::";

/// The function of the frame a Rust panic's location gives when no
/// backtrace was printed: the panic happened in that file, in a function
/// the message does not name.
pub const PANIC_FUNCTION: &str = "<panic>";

/// One call in a stack trace, reduced to what names the code: the same
/// code gives the same frame in every run and at shifted lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The class, type, package or module path the function belongs to
    /// (`com.shop.cart.CartService`, `shop::cart::Cart`,
    /// `example.com/shop/cart.Cart`); empty where the trace names only a
    /// file (Python, JavaScript, Ruby before 3.4).
    pub module: String,
    /// The function or method, without generated suffixes: a lambda or
    /// closure is named after the function it was written in.
    pub function: String,
    /// The source file as printed, without line and column; `None` for
    /// native, generated or unknown code.
    pub file: Option<String>,
}

impl Frame {
    /// A frame from its parts, as the parsers and tests build them.
    pub fn new(module: impl Into<String>, function: impl Into<String>, file: Option<&str>) -> Self {
        Self {
            module: module.into(),
            function: function.into(),
            file: file.map(str::to_owned),
        }
    }

    /// Whether the two frames have the same [`Frame::key`], without
    /// building it.
    fn same_key(&self, other: &Self) -> bool {
        self.module == other.module
            && self.function == other.function
            && (!self.module.is_empty()
                || self.file.as_deref().map(basename) == other.file.as_deref().map(basename))
    }

    /// What a fingerprint is made of: the module, or the file's base name
    /// when there is no module, then [`KEY_SEPARATOR`] and the function.
    /// The directory is left out so that the same code checked out
    /// elsewhere (another CI workspace) keeps its key; the function alone
    /// when there is neither module nor file.
    pub fn key(&self) -> String {
        let scope = if self.module.is_empty() {
            self.file.as_deref().map(basename).unwrap_or_default()
        } else {
            &self.module
        };
        if scope.is_empty() {
            self.function.clone()
        } else {
            format!("{scope}{KEY_SEPARATOR}{}", self.function)
        }
    }
}

/// The frames of `trace`, top of stack first; see the module's
/// documentation for which exception's frames a chained trace gives.
pub fn parse_frames(trace: &str) -> Vec<Frame> {
    let mut reader = TraceReader::default();
    for line in trace.lines() {
        if reader.read(line) == Flow::Stop {
            break;
        }
    }
    reader.finish()
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The frames of one exception in a chained trace.
#[derive(Debug, Default)]
struct Section {
    frames: Vec<Frame>,
    /// A JVM `... N more`: the last N frames of the enclosing trace belong
    /// to this one too.
    elided: usize,
    /// Printed most recent call last (Python, pytest).
    most_recent_last: bool,
}

/// The state that spans lines: formats that spread a frame over two lines,
/// sections, and what is being skipped.
#[derive(Debug, Default)]
struct TraceReader {
    /// The exceptions seen so far, the current one last.
    sections: Vec<Section>,
    /// A Go call waiting for the location line that follows it.
    go_call: Option<Frame>,
    /// A Go `created by` line: the location that follows is no call.
    go_created_by: bool,
    goroutines: u32,
    /// The last frame is a Rust backtrace symbol whose `at` line may follow.
    rust_location_due: bool,
    /// The last line was part of a Rust backtrace's frames, so a symbol
    /// alone on this one is an inlined call.
    rust_frames_continue: bool,
    /// Inside a Rust backtrace (`stack backtrace:` or a numbered symbol
    /// with a path was seen): symbols without a path are frames too.
    rust_backtrace: bool,
    rust_panic: Option<Frame>,
    /// The last `def name(` of a pytest excerpt: its location line does not
    /// name the function.
    pytest_function: Option<String>,
    /// Inside a JVM `Suppressed:` section printed at this indentation.
    suppressed_indent: Option<usize>,
}

impl TraceReader {
    fn read(&mut self, line: &str) -> Flow {
        let text = line.trim();
        if text.is_empty() {
            return Flow::Continue;
        }
        let go_call = self.go_call.take();
        let go_created_by = std::mem::take(&mut self.go_created_by);
        if (go_call.is_some() || go_created_by)
            && let Some(file) = go::location(text)
        {
            if let Some(mut frame) = go_call {
                frame.file = Some(file);
                self.push(frame);
            }
            return Flow::Continue;
        }
        let rust_frames_continue = std::mem::take(&mut self.rust_frames_continue);
        if std::mem::take(&mut self.rust_location_due)
            && let Some(file) = rust::location(text)
        {
            if let Some(frame) = self.current().frames.last_mut() {
                frame.file = Some(file);
            }
            self.rust_frames_continue = true;
            return Flow::Continue;
        }

        let indent = line.len() - line.trim_start().len();
        if let Some(skipped) = self.suppressed_indent {
            if !(text.starts_with("Caused by:") && indent < skipped) {
                return Flow::Continue;
            }
            self.suppressed_indent = None;
        }
        if let Some(call) = text.strip_prefix("at ") {
            if let Some(frame) = at_frame(call.trim_start()) {
                self.push(frame);
            }
            return Flow::Continue;
        }
        if text.starts_with("Caused by:") {
            self.sections.push(Section::default());
            return Flow::Continue;
        }
        if text.starts_with("Suppressed:") {
            self.suppressed_indent = Some(indent);
            return Flow::Continue;
        }
        if let Some(count) = jvm::elided(text) {
            self.current().elided = count;
            return Flow::Continue;
        }
        self.read_other(text, rust_frames_continue)
    }

    /// The formats whose lines do not start with `at`.
    fn read_other(&mut self, text: &str, rust_frames_continue: bool) -> Flow {
        if let Some(rest) = text.strip_prefix("File \"") {
            if let Some(frame) = python::frame(rest) {
                self.push_most_recent_last(frame);
            }
        } else if python::starts_traceback(text) {
            if !self.current().frames.is_empty() {
                self.sections.push(Section::default());
            }
        } else if go::is_goroutine_header(text) {
            self.goroutines += 1;
            if self.goroutines > 1 {
                return Flow::Stop;
            }
        } else if text.starts_with("created by ") {
            self.go_created_by = true;
        } else if text.starts_with("--- End of inner exception stack trace") {
            return Flow::Stop;
        } else if let Some(frame) = rust::panic_location(text) {
            self.rust_panic.get_or_insert(frame);
        } else if text == "stack backtrace:" {
            self.rust_backtrace = true;
        } else if let Some(frame) = rust::numbered_frame(text, self.rust_backtrace).or_else(|| {
            rust_frames_continue
                .then(|| rust::symbol(text, false))
                .flatten()
        }) {
            self.rust_backtrace = true;
            self.push(frame);
            self.rust_location_due = true;
            self.rust_frames_continue = true;
        } else if let Some(frame) = ruby::frame(text) {
            self.push(frame);
        } else if let Some(frame) = python::pytest_location(text, &mut self.pytest_function) {
            self.push_most_recent_last(frame);
        } else if let Some(function) = python::pytest_definition(text) {
            self.pytest_function = Some(function);
        } else if let Some(frame) = javascript::firefox_frame(text) {
            self.push(frame);
        } else if let Some(frame) = go::call(text) {
            self.go_call = Some(frame);
        }
        Flow::Continue
    }

    fn current(&mut self) -> &mut Section {
        if self.sections.is_empty() {
            self.sections.push(Section::default());
        }
        let last = self.sections.len() - 1;
        &mut self.sections[last]
    }

    fn push(&mut self, frame: Frame) {
        self.current().frames.push(frame);
    }

    fn push_most_recent_last(&mut self, frame: Frame) {
        let section = self.current();
        section.most_recent_last = true;
        section.frames.push(frame);
    }

    fn finish(self) -> Vec<Frame> {
        let mut stack: Vec<Frame> = Vec::new();
        for section in self.sections {
            let mut frames = section.frames;
            if section.most_recent_last {
                frames.reverse();
            }
            if section.elided > 0 {
                let shared = stack.len().saturating_sub(section.elided);
                frames.extend_from_slice(&stack[shared..]);
            }
            if !frames.is_empty() {
                stack = frames;
            }
        }
        if stack.is_empty()
            && let Some(panic) = self.rust_panic
        {
            stack.push(panic);
        }
        stack.dedup_by(|below, above| below.same_key(above));
        stack
    }
}

/// A line that starts with `at `: JVM (`at pkg.Class.method(File.java:42)`),
/// .NET (`at Ns.Type.Method(Item item) in C:\src\Cart.cs:line 42`) or V8
/// (`at CartService.add (/app/src/cart.ts:42:13)`, `at /app/x.js:1:2`).
/// V8 puts a space before the parenthesis; the JVM prints a file name in
/// it, .NET a parameter list (`Type name`, or nothing) and maybe ` in path`.
fn at_frame(call: &str) -> Option<Frame> {
    match call.find('(') {
        Some(open) if open > 0 && !call[..open].ends_with(' ') => {
            let close = open + call[open..].find(')')?;
            let (name, inside, after) = (&call[..open], &call[open + 1..close], &call[close + 1..]);
            let after = after.trim();
            let jvm_source =
                !inside.contains(' ') || matches!(inside, "Native Method" | "Unknown Source");
            if after.starts_with("in ") || inside.is_empty() || !jvm_source {
                dotnet::frame(name, after)
            } else {
                jvm::frame(name, inside)
            }
        }
        _ => javascript::v8_frame(call),
    }
}

/// The last component of a path, with `/` or `\` separators.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

pub(crate) fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `path:line:column` or `path:line` without the numbers; `None` when
/// there are none.
pub(crate) fn strip_position(location: &str) -> Option<&str> {
    let (rest, last) = location.rsplit_once(':')?;
    if !is_digits(last) {
        return None;
    }
    match rest.rsplit_once(':') {
        Some((path, line)) if is_digits(line) => Some(path),
        _ => Some(rest),
    }
}

/// `text` without what `open` and `close` enclose (nested ones included):
/// generic arguments.
pub(crate) fn remove_bracketed(text: &str, open: char, close: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        if c == open {
            depth += 1;
        } else if c == close && depth > 0 {
            depth -= 1;
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}
