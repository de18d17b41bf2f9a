use super::{Case, check, check_same};

const TEST_BACKTRACE: &str = "thread 'cart::tests::adds_item' panicked at src/cart.rs:42:9:
assertion `left == right` failed
  left: 1
 right: 2
stack backtrace:
   0: rust_begin_unwind
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/panicking.rs:665:5
   1: core::panicking::panic_fmt
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs:74:14
   2: core::panicking::assert_failed_inner
   3: core::panicking::assert_failed
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs:364:5
   4: shop::cart::Cart::add
             at ./src/cart.rs:42:9
   5: shop::cart::tests::adds_item
             at ./src/cart.rs:80:9
   6: shop::cart::tests::adds_item::{{closure}}
             at ./src/cart.rs:78:19
   7: core::ops::function::FnOnce::call_once
             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/ops/function.rs:250:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.
";

const FULL_BACKTRACE: &str = "thread 'main' panicked at src/main.rs:12:5:
called `Option::unwrap()` on a `None` value
stack backtrace:
   0:     0x55d4c2a1b2c3 - std::backtrace_rs::backtrace::libunwind::trace::h1a2b3c4d5e6f7a8b
                               at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/../../backtrace/src/backtrace/libunwind.rs:116:5
   1:     0x55d4c2a1b3d4 - <shop::order::Order as core::ops::drop::Drop>::drop::h0f1e2d3c4b5a6978
                               at /app/src/order.rs:88:13
   2:     0x55d4c2a1b4e5 - shop::order::ship::{{closure}}::h9a8b7c6d5e4f3a2b
                               at /app/src/order.rs:40:22
                           shop::order::Carrier<T>::send
                               at /app/src/order.rs:120:9
   3:     0x55d4c2a1b5f6 - <alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once::h1111111111111111
                               at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/alloc/src/boxed.rs:2015:9
   4:     0x55d4c2a1b607 - shop::main::h2222222222222222
                               at /app/src/main.rs:12:5
   5:     0x7f0a1b2c3d4e - __libc_start_main
   6:     0x55d4c2a1b718 - _start
   7:                0x0 - <unknown>
";

#[test]
fn rust_backtraces_give_their_frames() {
    check(&[
        Case {
            name: "a test's backtrace; the closure counts once",
            trace: TEST_BACKTRACE,
            frames: &[
                (
                    "panicking.rs::rust_begin_unwind",
                    Some(
                        "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/panicking.rs",
                    ),
                ),
                (
                    "core::panicking::panic_fmt",
                    Some(
                        "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs",
                    ),
                ),
                ("core::panicking::assert_failed_inner", None),
                (
                    "core::panicking::assert_failed",
                    Some(
                        "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs",
                    ),
                ),
                ("shop::cart::Cart::add", Some("./src/cart.rs")),
                ("shop::cart::tests::adds_item", Some("./src/cart.rs")),
                (
                    "core::ops::function::FnOnce::call_once",
                    Some(
                        "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/ops/function.rs",
                    ),
                ),
            ],
        },
        Case {
            name: "RUST_BACKTRACE=full: addresses, hashes, trait methods, inlined calls",
            trace: FULL_BACKTRACE,
            frames: &[
                (
                    "std::backtrace_rs::backtrace::libunwind::trace",
                    Some(
                        "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/../../backtrace/src/backtrace/libunwind.rs",
                    ),
                ),
                ("shop::order::Order::drop", Some("/app/src/order.rs")),
                ("shop::order::ship", Some("/app/src/order.rs")),
                ("shop::order::Carrier::send", Some("/app/src/order.rs")),
                (
                    "alloc::boxed::Box::call_once",
                    Some(
                        "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/alloc/src/boxed.rs",
                    ),
                ),
                ("shop::main", Some("/app/src/main.rs")),
                ("__libc_start_main", None),
                ("_start", None),
                ("<unknown>", None),
            ],
        },
        Case {
            name: "no backtrace: the panic's location",
            trace: "thread 'cart::tests::adds_item' panicked at src/cart.rs:42:9:
assertion `left == right` failed
  left: 1
 right: 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
",
            frames: &[("cart.rs::<panic>", Some("src/cart.rs"))],
        },
        Case {
            name: "no backtrace, before Rust 1.73",
            trace: "thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 5', src/main.rs:2:5",
            frames: &[("main.rs::<panic>", Some("src/main.rs"))],
        },
        Case {
            name: "v0 symbol names",
            trace: "   0: shop::cart::Cart::add::{closure#0}
             at ./src/cart.rs:42:9
   1: <shop::cart::Cart<u32>>::add
             at ./src/cart.rs:40:5
   2: <shop::cart::Cart as shop::Checkout>::checkout
",
            frames: &[
                ("shop::cart::Cart::add", Some("./src/cart.rs")),
                ("shop::cart::Cart::checkout", None),
            ],
        },
    ]);
}

#[test]
fn the_same_rust_failure_elsewhere_gives_the_same_frames() {
    check_same(&[(
        "shifted lines, other addresses and hashes",
        FULL_BACKTRACE,
        &FULL_BACKTRACE
            .replace("0x55d4c2a1b", "0x5600aa11b")
            .replace("h0f1e2d3c4b5a6978", "h77aa66bb55cc44dd")
            .replace("order.rs:88:13", "order.rs:91:17")
            .replace("order.rs:40:22", "order.rs:43:9"),
    )]);
}
