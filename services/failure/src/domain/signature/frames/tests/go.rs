use super::{Case, check, check_same};

const GO_TEST_PANIC: &str = "--- FAIL: TestAdd (0.00s)
panic: runtime error: index out of range [5] with length 3 [recovered]
\tpanic: runtime error: index out of range [5] with length 3

goroutine 7 [running]:
testing.tRunner.func1.2({0x1029e0, 0xc000016180})
\t/usr/local/go/src/testing/testing.go:1545 +0x238
testing.tRunner.func1()
\t/usr/local/go/src/testing/testing.go:1548 +0x397
panic({0x1029e0?, 0xc000016180?})
\t/usr/local/go/src/runtime/panic.go:914 +0x21f
example.com/shop/cart.(*Cart).Add(...)
\t/app/cart/cart.go:42
example.com/shop/cart.TestAdd(0xc0000071e0?)
\t/app/cart/cart_test.go:10 +0x1d
testing.tRunner(0xc0000071e0, 0x115f10)
\t/usr/local/go/src/testing/testing.go:1595 +0xff
created by testing.(*T).Run in goroutine 1
\t/usr/local/go/src/testing/testing.go:1648 +0x3ad
";

const GO_PROGRAM_PANIC: &str = "panic: assignment to entry in nil map

goroutine 1 [running]:
example.com/shop/stock.(*Store).Reserve.func1(...)
\t/src/stock/store.go:31
example.com/shop/stock.(*Store).Reserve(0xc000012345, {0x4b8e2a, 0x5})
\t/src/stock/store.go:35 +0x8b
example.com/shop/stock.Map[...](0xc000010000, 0x4b8e40)
\t/src/stock/generic.go:8 +0x2f
main.main.gowrap1()
\t/src/main.go:12 +0x45
runtime.goexit({})
\t/usr/local/go/src/runtime/asm_amd64.s:1650 +0x1
created by main.main in goroutine 1
\t/src/main.go:11 +0x3d

goroutine 18 [select]:
example.com/shop/stock.(*Store).watch(0xc000012345)
\t/src/stock/store.go:90 +0x77
";

#[test]
fn go_traces_give_the_panicking_goroutines_frames() {
    check(&[
        Case {
            name: "a panic in a test",
            trace: GO_TEST_PANIC,
            frames: &[
                (
                    "testing::tRunner",
                    Some("/usr/local/go/src/testing/testing.go"),
                ),
                ("runtime::panic", Some("/usr/local/go/src/runtime/panic.go")),
                ("example.com/shop/cart.Cart::Add", Some("/app/cart/cart.go")),
                (
                    "example.com/shop/cart::TestAdd",
                    Some("/app/cart/cart_test.go"),
                ),
                (
                    "testing::tRunner",
                    Some("/usr/local/go/src/testing/testing.go"),
                ),
            ],
        },
        Case {
            name: "closures, generics, wrappers, another goroutine",
            trace: GO_PROGRAM_PANIC,
            frames: &[
                (
                    "example.com/shop/stock.Store::Reserve",
                    Some("/src/stock/store.go"),
                ),
                ("example.com/shop/stock::Map", Some("/src/stock/generic.go")),
                ("main::main", Some("/src/main.go")),
                (
                    "runtime::goexit",
                    Some("/usr/local/go/src/runtime/asm_amd64.s"),
                ),
            ],
        },
    ]);
}

#[test]
fn the_same_go_failure_elsewhere_gives_the_same_frames() {
    check_same(&[(
        "shifted lines, other arguments, offsets and closure numbers",
        GO_PROGRAM_PANIC,
        "panic: assignment to entry in nil map

goroutine 1 [running]:
example.com/shop/stock.(*Store).Reserve.func3.1(...)
\t/src/stock/store.go:40
example.com/shop/stock.(*Store).Reserve(0xc0000a0000, {0x4c0000, 0x7})
\t/src/stock/store.go:44 +0x9c
example.com/shop/stock.Map[...](0xc0000b0000, 0x4c0040)
\t/src/stock/generic.go:9 +0x31
main.main.gowrap2()
\t/src/main.go:14 +0x45
runtime.goexit({})
\t/usr/local/go/src/runtime/asm_amd64.s:1700 +0x1
created by main.main in goroutine 1
\t/src/main.go:13 +0x3d
",
    )]);
}
