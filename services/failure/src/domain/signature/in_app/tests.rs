use super::super::frames::{Frame, parse_frames};
use super::InAppRules;

fn frame(module: &str, function: &str, file: Option<&str>) -> Frame {
    Frame::new(module, function, file)
}

#[test]
fn without_prefixes_frameworks_runtimes_and_test_runners_are_not_in_app() {
    let defaults = InAppRules::default();
    let cases = [
        // JVM
        (
            frame("com.shop.cart.CartService", "add", Some("CartService.java")),
            true,
        ),
        (frame("java.lang.Thread", "run", Some("Thread.java")), false),
        (
            frame(
                "jdk.internal.reflect.DirectMethodHandleAccessor",
                "invoke",
                None,
            ),
            false,
        ),
        (
            frame("sun.reflect.NativeMethodAccessorImpl", "invoke0", None),
            false,
        ),
        (
            frame("kotlinx.coroutines.DispatchedTask", "run", None),
            false,
        ),
        (frame("scala.collection.immutable.List", "map", None), false),
        (
            frame("org.junit.jupiter.api.Assertions", "assertEquals", None),
            false,
        ),
        (frame("junit.framework.Assert", "fail", None), false),
        (
            frame(
                "org.testng.internal.MethodInvocationHelper",
                "invokeMethod",
                None,
            ),
            false,
        ),
        (
            frame(
                "org.apache.maven.surefire.booter.ForkedBooter",
                "main",
                None,
            ),
            false,
        ),
        (
            frame(
                "org.gradle.api.internal.tasks.testing.worker.TestWorker",
                "execute",
                None,
            ),
            false,
        ),
        (
            frame(
                "worker.org.gradle.process.internal.worker.GradleWorkerMain",
                "main",
                None,
            ),
            false,
        ),
        (
            frame("org.hamcrest.MatcherAssert", "assertThat", None),
            false,
        ),
        (
            frame("org.assertj.core.api.AbstractAssert", "isEqualTo", None),
            false,
        ),
        (
            frame("org.mockito.internal.MockitoCore", "verify", None),
            false,
        ),
        (
            frame(
                "org.springframework.test.context.junit.jupiter.SpringExtension",
                "x",
                None,
            ),
            false,
        ),
        (
            frame(
                "org.springframework.cglib.proxy.MethodProxy",
                "invoke",
                None,
            ),
            false,
        ),
        (
            frame("org.postgresql.Driver", "connect", Some("Driver.java")),
            false,
        ),
        (
            frame("com.zaxxer.hikari.pool.HikariPool", "getConnection", None),
            false,
        ),
        // Python
        (frame("", "add_item", Some("/app/shop/cart.py")), true),
        (
            frame(
                "",
                "pytest_pyfunc_call",
                Some("/app/.venv/lib/python3.11/site-packages/_pytest/python.py"),
            ),
            false,
        ),
        (
            frame(
                "",
                "testPartExecutor",
                Some("/usr/lib/python3.12/unittest/case.py"),
            ),
            false,
        ),
        (
            frame("", "_find_and_load", Some("<frozen importlib._bootstrap>")),
            false,
        ),
        (
            frame("", "run", Some(r"C:\Python311\Lib\unittest\case.py")),
            false,
        ),
        // JavaScript
        (
            frame(
                "",
                "CartService.total",
                Some("/app/src/cart/cart-service.ts"),
            ),
            true,
        ),
        (
            frame(
                "",
                "callAsyncCircusFn",
                Some("/app/node_modules/jest-circus/build/utils.js"),
            ),
            false,
        ),
        (
            frame(
                "",
                "process.processTicksAndRejections",
                Some("node:internal/process/task_queues"),
            ),
            false,
        ),
        (frame("", "Promise.all", None), false),
        // Go
        (
            frame(
                "example.com/shop/cart.Cart",
                "Add",
                Some("/app/cart/cart.go"),
            ),
            true,
        ),
        (
            frame(
                "runtime",
                "gopanic",
                Some("/usr/local/go/src/runtime/panic.go"),
            ),
            false,
        ),
        (
            frame(
                "testing",
                "tRunner",
                Some("/usr/local/go/src/testing/testing.go"),
            ),
            false,
        ),
        (
            frame("github.com/stretchr/testify/assert", "Equal", None),
            false,
        ),
        (
            frame(
                "net/http.conn",
                "serve",
                Some("/usr/local/go/src/net/http/server.go"),
            ),
            false,
        ),
        (
            frame(
                "encoding/json",
                "Unmarshal",
                Some("/usr/lib/go-1.22/src/encoding/json/decode.go"),
            ),
            false,
        ),
        (
            frame(
                "github.com/lib/pq.conn",
                "query",
                Some("/root/go/pkg/mod/github.com/lib/pq@v1.10.9/conn.go"),
            ),
            false,
        ),
        // Rust
        (
            frame("shop::cart::Cart", "add", Some("./src/cart.rs")),
            true,
        ),
        (frame("", "<panic>", Some("src/cart.rs")), true),
        (frame("std::panicking", "begin_panic_handler", None), false),
        (frame("core::panicking", "panic_fmt", None), false),
        (frame("alloc::boxed::Box", "call_once", None), false),
        (frame("test", "run_test", None), false),
        (
            frame(
                "",
                "rust_begin_unwind",
                Some("/rustc/90b35a62/library/std/src/panicking.rs"),
            ),
            false,
        ),
        (frame("", "<unknown>", None), false),
        // .NET
        (frame("Shop.Cart.CartService", "Checkout", None), true),
        (
            frame(
                "System.Runtime.CompilerServices.TaskAwaiter",
                "ThrowForNonSuccess",
                None,
            ),
            false,
        ),
        (
            frame(
                "Microsoft.VisualStudio.TestPlatform.MSTest.TestAdapter.Execution",
                "Run",
                None,
            ),
            false,
        ),
        (frame("NUnit.Framework.Assert", "Throws", None), false),
        (frame("Xunit.Assert", "Equal", None), false),
        // Ruby
        (frame("", "add", Some("/app/lib/shop/cart.rb")), true),
        (
            frame(
                "",
                "instance_exec",
                Some("/usr/local/bundle/gems/rspec-core-3.13.0/lib/rspec/core/example.rb"),
            ),
            false,
        ),
        (frame("Kernel", "loop", Some("<internal:kernel>")), false),
        (frame("Minitest::Test", "run", None), false),
    ];
    for (frame, in_app) in cases {
        assert_eq!(defaults.is_in_app(&frame), in_app, "{frame:?}");
    }
}

#[test]
fn with_prefixes_only_the_modules_and_files_they_start_are_in_app() {
    let rules = InAppRules {
        prefixes: vec![
            "com.shop.".into(),
            "src/".into(),
            "/app/shop/".into(),
            String::new(),
        ],
    };
    let cases = [
        (
            frame("com.shop.cart.CartService", "add", Some("CartService.java")),
            true,
        ),
        (
            frame("com.shopify.Client", "get", Some("Client.java")),
            false,
        ),
        (
            frame("org.junit.jupiter.api.Assertions", "assertEquals", None),
            false,
        ),
        (
            frame("shop::cart::Cart", "add", Some("./src/cart.rs")),
            true,
        ),
        (frame("", "add_item", Some("/app/shop/cart.py")), true),
        (
            frame("", "test_add", Some("/app/tests/test_cart.py")),
            false,
        ),
        (frame("", "Promise.all", None), false),
    ];
    for (frame, in_app) in cases {
        assert_eq!(rules.is_in_app(&frame), in_app, "{frame:?}");
    }
}

#[test]
fn a_project_may_name_what_the_defaults_leave_out() {
    let rules = InAppRules {
        prefixes: vec!["org.springframework.".into()],
    };
    assert!(rules.is_in_app(&frame(
        "org.springframework.web.servlet.DispatcherServlet",
        "doDispatch",
        None
    )));
}

#[test]
fn the_in_app_frames_of_a_real_trace_are_the_projects() {
    let trace = "org.opentest4j.AssertionFailedError: expected: <2> but was: <1>\n\
        \tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)\n\
        \tat com.shop.cart.Cart.add(Cart.java:9)\n\
        \tat com.shop.cart.CartTest.adds(CartTest.java:42)\n\
        \tat java.base/java.lang.reflect.Method.invoke(Method.java:580)\n\
        \tat org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)\n";
    let in_app: Vec<String> = parse_frames(trace)
        .iter()
        .filter(|frame| InAppRules::default().is_in_app(frame))
        .map(Frame::key)
        .collect();
    assert_eq!(
        in_app,
        ["com.shop.cart.Cart::add", "com.shop.cart.CartTest::adds"]
    );
}
