//! Table tests: real traces of every supported language, the frames they
//! give, and the same failure at shifted lines, other lambda numbers and
//! other addresses giving the same frames.

use std::time::{Duration, Instant};

use super::{Frame, exception_type, parse_frames};

mod dotnet;
mod exception;
mod go;
mod javascript;
mod jvm;
mod python;
mod ruby;
mod rust;

/// A trace and what each of its frames should be: key and file.
pub(super) struct Case {
    pub name: &'static str,
    pub trace: &'static str,
    pub frames: &'static [(&'static str, Option<&'static str>)],
}

pub(super) fn check(cases: &[Case]) {
    for case in cases {
        let frames: Vec<(String, Option<String>)> = parse_frames(case.trace)
            .iter()
            .map(|frame| (frame.key(), frame.file.clone()))
            .collect();
        let expected: Vec<(String, Option<String>)> = case
            .frames
            .iter()
            .map(|(key, file)| ((*key).to_owned(), file.map(str::to_owned)))
            .collect();
        assert_eq!(frames, expected, "{}", case.name);
    }
}

/// Each pair is one failure printed twice (lines shifted, other lambda or
/// closure numbers, other addresses): the frames must be the same.
pub(super) fn check_same(pairs: &[(&str, &str, &str)]) {
    for (name, first, second) in pairs {
        let frames = parse_frames(first);
        assert!(!frames.is_empty(), "{name}: no frames");
        assert_eq!(frames, parse_frames(second), "{name}");
    }
}

#[test]
fn a_key_is_the_module_or_else_the_file_name_then_the_function() {
    let cases = [
        (
            Frame::new("com.shop.Cart", "add", Some("Cart.java")),
            "com.shop.Cart::add",
        ),
        (
            Frame::new("", "add_item", Some("/app/shop/cart.py")),
            "cart.py::add_item",
        ),
        (
            Frame::new("", "Add", Some(r"C:\src\Cart.cs")),
            "Cart.cs::Add",
        ),
        (Frame::new("", "Promise.all", None), "Promise.all"),
        (
            Frame::new("shop::cart::Cart", "add", None),
            "shop::cart::Cart::add",
        ),
    ];
    for (frame, key) in cases {
        assert_eq!(frame.key(), key);
    }
}

#[test]
fn text_without_frames_gives_none() {
    for text in [
        "",
        "expected: <1> but was: <2>",
        "AssertionError: 1 != 2\n\nat the end of the day, nothing\n1: expected 3\nuser@example.com wrote",
        "Step 1: open (cart)\nresult(x y)\n",
    ] {
        assert_eq!(parse_frames(text), Vec::new(), "{text:?}");
    }
}

/// A trace of 40 frames in one of seven languages; `seed` shifts the lines.
fn generated_trace(language: usize, seed: usize) -> String {
    let mut trace = String::new();
    for depth in 0..40 {
        let line = depth * 3 + seed % 50;
        let frame = match language {
            0 => format!(
                "\tat com.shop.p{depth}.Service$$Lambda${seed}/0x0000000800c0b040.lambda$run${depth}(Service.java:{line})\n"
            ),
            1 => format!(
                "  File \"/app/shop/m{depth}.py\", line {line}, in f{depth}\n    do_something(x, y)\n"
            ),
            2 => format!("    at Service.m{depth} (/app/src/f{depth}.ts:{line}:13)\n"),
            3 => format!(
                "example.com/shop/p{depth}.(*T).M.func1(0xc000010000, {{0x4b8e2a, 0x5}})\n\t/app/p/f{depth}.go:{line} +0x1d\n"
            ),
            4 => format!(
                "  {depth}:     0x55d4c2a1b2c3 - <shop::m{depth}::T<u32> as core::ops::Drop>::drop::{{{{closure}}}}::h1a2b3c4d5e6f7a8b\n             at /app/src/m{depth}.rs:{line}:9\n"
            ),
            5 => format!(
                "   at Shop.N{depth}.Svc.<MAsync>d__{seed}.MoveNext() in /src/Svc{depth}.cs:line {line}\n"
            ),
            _ => format!("\tfrom /app/lib/f{depth}.rb:{line}:in `block (2 levels) in m{depth}'\n"),
        };
        trace.push_str(&frame);
    }
    trace
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a budget for optimised code: cargo nextest run --cargo-profile release -p failure-service parse_5000"
)]
fn parse_5000_traces_of_40_frames_well_under_a_second() {
    let traces: Vec<String> = (0..5_000)
        .map(|seed| generated_trace(seed % 7, seed))
        .collect();
    let started = Instant::now();
    let mut frames = 0;
    for trace in &traces {
        frames += parse_frames(trace).len();
        let _ = exception_type("", trace);
    }
    let took = started.elapsed();
    assert!(frames >= 5_000 * 39, "{frames} frames");
    assert!(took < Duration::from_millis(500), "took {took:?}");
}
