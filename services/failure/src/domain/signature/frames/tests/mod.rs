//! Table tests: real traces of every supported language, the frames they
//! give, and the same failure at shifted lines, other lambda numbers and
//! other addresses giving the same frames.

use super::{Frame, parse_frames};

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
