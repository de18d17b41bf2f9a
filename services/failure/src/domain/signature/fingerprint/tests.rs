use std::collections::{BTreeMap, BTreeSet};

use super::super::GROUPING_VERSION;
use super::super::corpus::labelled_failures;
use super::super::frames::{Frame, exception_type, parse_frames};
use super::super::in_app::InAppRules;
use super::{Signature, TOP_FRAMES, fingerprint, hash};

fn signature(message: &str, trace: &str) -> Signature {
    let exception = exception_type(message, trace);
    fingerprint(
        exception.as_deref(),
        &parse_frames(trace),
        &InAppRules::default(),
        message,
    )
}

/// One failure per language, printed twice: other line numbers, lambda and
/// closure numbers, addresses, hashes and message values.
const SAME_FAILURE: &[(&str, &str, &str)] = &[
    (
        "Java",
        "java.lang.IllegalStateException: cart 42 is locked\n\
         \tat com.shop.cart.Cart.lambda$add$0(Cart.java:31)\n\
         \tat com.shop.cart.Cart$$Lambda$81/0x0000000800c0b040.accept(Unknown Source)\n\
         \tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)\n\
         \tat com.shop.cart.Cart.add(Cart.java:30)\n\
         \tat com.shop.cart.CartTest.adds(CartTest.java:12)\n\
         \tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)\n",
        "java.lang.IllegalStateException: cart 7 is locked\n\
         \tat com.shop.cart.Cart.lambda$add$2(Cart.java:35)\n\
         \tat com.shop.cart.Cart$$Lambda/0x000001f2a8c4e2d0.accept(Unknown Source)\n\
         \tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)\n\
         \tat com.shop.cart.Cart.add(Cart.java:34)\n\
         \tat com.shop.cart.CartTest.adds(CartTest.java:14)\n\
         \tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)\n",
    ),
    (
        "Python",
        "Traceback (most recent call last):\n  File \"/app/tests/test_cart.py\", line 12, in test_add\n    cart.add_item(\"sku-1\", -1)\n  File \"/app/shop/cart.py\", line 42, in add_item\n    raise ValueError(f\"invalid quantity: {quantity}\")\nValueError: invalid quantity: -1\n",
        "Traceback (most recent call last):\n  File \"/app/tests/test_cart.py\", line 19, in test_add\n    cart.add_item(\"sku-9\", -3)\n  File \"/app/shop/cart.py\", line 48, in add_item\n    raise ValueError(f\"invalid quantity: {quantity}\")\nValueError: invalid quantity: -3\n",
    ),
    (
        "JavaScript",
        "TypeError: Cannot read properties of undefined (reading 'price')\n    at CartService.total (/app/src/cart.ts:42:31)\n    at Array.reduce (<anonymous>)\n    at Object.<anonymous> (/app/src/cart.test.ts:18:5)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n",
        "TypeError: Cannot read properties of undefined (reading 'price')\n    at CartService.total (/app/src/cart.ts:47:9)\n    at Array.reduce (<anonymous>)\n    at Object.<anonymous> (/app/src/cart.test.ts:21:7)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n",
    ),
    (
        "Go",
        "panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nexample.com/shop/stock.(*Store).Reserve.func1(...)\n\t/src/stock/store.go:31\nexample.com/shop/stock.(*Store).Reserve(0xc000012345, {0x4b8e2a, 0x5})\n\t/src/stock/store.go:35 +0x8b\nmain.main()\n\t/src/main.go:12 +0x45\n",
        "panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nexample.com/shop/stock.(*Store).Reserve.func2(...)\n\t/src/stock/store.go:38\nexample.com/shop/stock.(*Store).Reserve(0xc0000a0000, {0x4c0000, 0x7})\n\t/src/stock/store.go:41 +0x9c\nmain.main()\n\t/src/main.go:15 +0x45\n",
    ),
    (
        "Rust",
        "thread 'main' panicked at src/main.rs:12:5:\nboom\nstack backtrace:\n   0:     0x55d4c2a1b2c3 - std::panicking::begin_panic::h1a2b3c4d5e6f7a8b\n   1:     0x55d4c2a1b3d4 - shop::order::ship::{{closure}}::h9a8b7c6d5e4f3a2b\n                               at /app/src/order.rs:40:22\n   2:     0x55d4c2a1b607 - shop::main::h2222222222222222\n                               at /app/src/main.rs:12:5\n",
        "thread 'main' panicked at src/main.rs:14:5:\nboom\nstack backtrace:\n   0:     0x5600aa11b2c3 - std::panicking::begin_panic::h0000000000000001\n   1:     0x5600aa11b3d4 - shop::order::ship::{{closure}}::h0000000000000002\n                               at /app/src/order.rs:44:9\n   2:     0x5600aa11b607 - shop::main::h0000000000000003\n                               at /app/src/main.rs:14:5\n",
    ),
    (
        ".NET",
        "System.InvalidOperationException: Cart 42 is empty\n   at Shop.Cart.CartService.<CheckoutAsync>d__5.MoveNext() in /src/Cart/CartService.cs:line 57\n   at Shop.Tests.CartTests.<>c__DisplayClass3_0.<Checkout>b__0() in /src/Tests/CartTests.cs:line 31\n   at NUnit.Framework.Assert.Throws(TestDelegate code)\n",
        "System.InvalidOperationException: Cart 7 is empty\n   at Shop.Cart.CartService.<CheckoutAsync>d__6.MoveNext() in /src/Cart/CartService.cs:line 60\n   at Shop.Tests.CartTests.<>c__DisplayClass4_0.<Checkout>b__1() in /src/Tests/CartTests.cs:line 35\n   at NUnit.Framework.Assert.Throws(TestDelegate code)\n",
    ),
    (
        "Ruby",
        "/app/lib/shop/cart.rb:42:in `add': undefined method `price' for nil:NilClass (NoMethodError)\n\tfrom /app/lib/shop/cart.rb:30:in `block in total'\n\tfrom /app/spec/cart_spec.rb:10:in `block (2 levels) in <top (required)>'\n",
        "/app/lib/shop/cart.rb:44:in `add': undefined method `price' for nil:NilClass (NoMethodError)\n\tfrom /app/lib/shop/cart.rb:33:in `block (2 levels) in total'\n\tfrom /app/spec/cart_spec.rb:12:in `block (2 levels) in <top (required)>'\n",
    ),
];

#[test]
fn the_same_failure_elsewhere_has_the_same_fingerprint() {
    for (language, first, second) in SAME_FAILURE {
        let (first, second) = (signature("", first), signature("", second));
        assert!(!first.frames.is_empty(), "{language}: {first:?}");
        assert!(first.exception_type.is_some(), "{language}: {first:?}");
        assert_eq!(first, second, "{language}");
    }
}

#[test]
fn different_failures_have_different_fingerprints() {
    let signatures: Vec<Signature> = SAME_FAILURE
        .iter()
        .map(|(_, trace, _)| signature("", trace))
        .collect();
    for (index, first) in signatures.iter().enumerate() {
        for second in &signatures[index + 1..] {
            assert_ne!(first.hash, second.hash, "{first:?} and {second:?}");
        }
    }
    let pairs = [
        (
            "another in-app frame",
            "java.lang.IllegalStateException: x\n\tat com.shop.Cart.add(Cart.java:3)\n",
            "java.lang.IllegalStateException: x\n\tat com.shop.Cart.remove(Cart.java:3)\n",
        ),
        (
            "another exception type",
            "java.lang.IllegalStateException: x\n\tat com.shop.Cart.add(Cart.java:3)\n",
            "java.lang.IllegalArgumentException: x\n\tat com.shop.Cart.add(Cart.java:3)\n",
        ),
        (
            "the same function in another file",
            "Traceback (most recent call last):\n  File \"/app/shop/cart.py\", line 4, in add\nValueError: x\n",
            "Traceback (most recent call last):\n  File \"/app/shop/stock.py\", line 4, in add\nValueError: x\n",
        ),
    ];
    for (what, first, second) in pairs {
        assert_ne!(
            signature("", first).hash,
            signature("", second).hash,
            "{what}"
        );
    }
}

#[test]
fn only_in_app_frames_count_when_there_are_some() {
    let trace = "org.opentest4j.AssertionFailedError: expected: <2> but was: <1>\n\
        \tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)\n\
        \tat com.shop.cart.Cart.add(Cart.java:9)\n\
        \tat com.shop.cart.CartTest.adds(CartTest.java:42)\n\
        \tat java.base/java.lang.reflect.Method.invoke(Method.java:580)\n";
    let signature = signature("expected: <2> but was: <1>", trace);
    assert_eq!(
        signature.exception_type.as_deref(),
        Some("org.opentest4j.AssertionFailedError")
    );
    assert_eq!(
        signature.frames,
        ["com.shop.cart.Cart::add", "com.shop.cart.CartTest::adds"]
    );
    assert_eq!(signature.message, None);
    assert_eq!(signature.version, GROUPING_VERSION);

    let only_tests = InAppRules {
        prefixes: vec!["com.shop.cart.CartTest".into()],
    };
    let narrowed = fingerprint(None, &parse_frames(trace), &only_tests, "");
    assert_eq!(narrowed.frames, ["com.shop.cart.CartTest::adds"]);
}

#[test]
fn without_in_app_frames_the_top_frames_count() {
    let frames: Vec<Frame> = (0..8)
        .map(|depth| Frame::new("java.util.Collections", format!("level{depth}"), None))
        .collect();
    let signature = fingerprint(
        Some("java.lang.StackOverflowError"),
        &frames,
        &InAppRules::default(),
        "x",
    );
    let expected: Vec<String> = (0..TOP_FRAMES)
        .map(|depth| format!("java.util.Collections::level{depth}"))
        .collect();
    assert_eq!(signature.frames, expected);
    assert_eq!(signature.message, None);
}

#[test]
fn at_most_the_top_five_in_app_frames_count() {
    let frames: Vec<Frame> = (0..9)
        .map(|depth| Frame::new("com.shop.Deep", format!("level{depth}"), None))
        .collect();
    let signature = fingerprint(None, &frames, &InAppRules::default(), "");
    assert_eq!(signature.frames.len(), TOP_FRAMES);
    assert_eq!(signature.frames[0], "com.shop.Deep::level0");
    let deeper_change: Vec<Frame> = frames[..TOP_FRAMES]
        .iter()
        .cloned()
        .chain([Frame::new("com.shop.Other", "x", None)])
        .collect();
    assert_eq!(
        fingerprint(None, &deeper_change, &InAppRules::default(), "").hash,
        signature.hash
    );
}

#[test]
fn without_frames_the_normalised_message_counts() {
    let rules = InAppRules::default();
    let first = fingerprint(
        Some("AssertionError"),
        &[],
        &rules,
        "expected <n> items, got <n>",
    );
    assert_eq!(first.frames, Vec::<String>::new());
    assert_eq!(
        first.message.as_deref(),
        Some("expected <n> items, got <n>")
    );
    assert_eq!(
        fingerprint(
            Some("AssertionError"),
            &[],
            &rules,
            "expected <n> items, got <n>"
        ),
        first
    );
    assert_ne!(
        fingerprint(
            Some("AssertionError"),
            &[],
            &rules,
            "expected <n> rows, got <n>"
        )
        .hash,
        first.hash
    );
    assert_ne!(
        fingerprint(
            Some("TimeoutError"),
            &[],
            &rules,
            "expected <n> items, got <n>"
        )
        .hash,
        first.hash
    );

    let empty = fingerprint(Some(" "), &[], &rules, "");
    assert_eq!((empty.exception_type, empty.message), (None, None));
}

#[test]
fn the_hash_is_sha256_of_the_version_and_the_length_prefixed_parts() {
    // Computed independently from the encoding documented on `fingerprint`.
    let signature = fingerprint(
        Some("java.lang.IllegalStateException"),
        &[
            Frame::new("com.shop.Cart", "add", None),
            Frame::new("com.shop.CartTest", "adds", None),
        ],
        &InAppRules::default(),
        "",
    );
    assert_eq!(
        signature.hash,
        "473900d0db0d3be9d65c5bb5a784047d579ada8317421d22f763323796b8621e"
    );
    assert_eq!(signature.hash.len(), 64);
}

#[test]
fn moving_text_between_parts_changes_the_hash() {
    let keys = |keys: &[&str]| keys.iter().map(|key| (*key).to_owned()).collect::<Vec<_>>();
    let hashes = [
        hash(1, Some("a"), &keys(&["b"]), None),
        hash(1, None, &keys(&["a", "b"]), None),
        hash(1, None, &keys(&["ab"]), None),
        hash(1, None, &keys(&["a"]), Some("b")),
        hash(1, Some("a"), &[], Some("b")),
        hash(1, Some("ab"), &[], None),
        hash(1, None, &[], Some("ab")),
        hash(1, Some(""), &[], None),
        hash(1, None, &[], None),
        hash(2, None, &[], None),
    ];
    for (index, first) in hashes.iter().enumerate() {
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        for second in &hashes[index + 1..] {
            assert_ne!(first, second);
        }
    }
}

#[test]
fn a_method_reached_again_through_framework_code_counts_once() {
    let trace = "java.lang.NullPointerException: item is null\n\
        \tat com.shop.cart.Cart.lambda$addAll$0(Cart.java:12)\n\
        \tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)\n\
        \tat com.shop.cart.Cart.addAll(Cart.java:12)\n\
        \tat com.shop.cart.CartTest.adds(CartTest.java:8)\n";
    assert_eq!(
        signature("", trace).frames,
        ["com.shop.cart.Cart::addAll", "com.shop.cart.CartTest::adds"]
    );
}

#[test]
fn the_labelled_corpus_gets_one_fingerprint_per_problem_with_a_trace() {
    let mut by_problem: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for failure in labelled_failures(7, 12) {
        let frames = parse_frames(&failure.trace);
        if frames.is_empty() {
            // Known by its message, which another module normalises.
            continue;
        }
        let exception = exception_type(&failure.message, &failure.trace);
        let signature = fingerprint(exception.as_deref(), &frames, &InAppRules::default(), "");
        by_problem
            .entry(failure.problem)
            .or_default()
            .insert(signature.hash);
    }
    assert!(
        by_problem.len() >= 20,
        "{} problems with frames",
        by_problem.len()
    );
    for (problem, hashes) in &by_problem {
        assert_eq!(
            hashes.len(),
            1,
            "{problem} split into {} groups",
            hashes.len()
        );
    }
    let distinct: BTreeSet<&String> = by_problem.values().flatten().collect();
    assert_eq!(
        distinct.len(),
        by_problem.len(),
        "two problems share a fingerprint"
    );
}
