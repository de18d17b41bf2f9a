use super::super::exception_type;

/// (what, message, trace, exception type).
const CASES: &[(&str, &str, &str, Option<&str>)] = &[
    // JVM
    (
        "Java",
        "Failed to add item",
        "java.lang.IllegalStateException: Failed to add item\n\tat com.shop.Cart.add(Cart.java:3)\n",
        Some("java.lang.IllegalStateException"),
    ),
    (
        "Java: the root cause",
        "",
        "java.lang.RuntimeException: wrapped\n\tat com.shop.A.a(A.java:1)\nCaused by: java.util.concurrent.ExecutionException: x\n\tat com.shop.B.b(B.java:2)\nCaused by: com.shop.OutOfStockException: sku-42\n\tat com.shop.C.c(C.java:3)\n\t... 2 more\n",
        Some("com.shop.OutOfStockException"),
    ),
    (
        "Java: a suppressed exception's cause is not the root cause",
        "",
        "java.io.IOException: close\n\tat com.shop.A.a(A.java:1)\n\tSuppressed: java.lang.IllegalStateException: flush\n\t\tat com.shop.A.f(A.java:2)\n\tCaused by: java.lang.RuntimeException: disk\n\t\tat com.shop.D.w(D.java:9)\nCaused by: java.net.SocketException: reset\n\tat com.shop.R.s(R.java:12)\n",
        Some("java.net.SocketException"),
    ),
    (
        "JUnit 5 assertion",
        "expected: <2> but was: <1>",
        "org.opentest4j.AssertionFailedError: expected: <2> but was: <1>\n\tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:563)\n",
        Some("org.opentest4j.AssertionFailedError"),
    ),
    (
        "Java: the message alone",
        "java.lang.AssertionError: expected 3",
        "",
        Some("java.lang.AssertionError"),
    ),
    (
        "Kotlin, no message",
        "",
        "kotlin.KotlinNullPointerException\n\tat com.shop.Cart.add(Cart.kt:3)\n",
        Some("kotlin.KotlinNullPointerException"),
    ),
    (
        "Scala object",
        "",
        "com.shop.Errors$Invalid$: bad\n\tat com.shop.Cart.add(Cart.scala:3)\n",
        Some("com.shop.Errors$Invalid$"),
    ),
    // Python
    (
        "Python: the last line",
        "",
        "Traceback (most recent call last):\n  File \"/app/shop/cart.py\", line 42, in add_item\n    raise ValueError(\"negative\")\nValueError: negative\n",
        Some("ValueError"),
    ),
    (
        "Python: a chain's last exception",
        "",
        "Traceback (most recent call last):\n  File \"/app/db.py\", line 2, in f\n    x[k]\nKeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/app/stock.py\", line 3, in g\n    raise LookupError(k)\nLookupError: unknown sku\nsecond line of the message\n",
        Some("LookupError"),
    ),
    (
        "Python: a qualified type",
        "",
        "Traceback (most recent call last):\n  File \"/app/x.py\", line 1, in <module>\nrequests.exceptions.HTTPError: 404 Client Error\n",
        Some("requests.exceptions.HTTPError"),
    ),
    (
        "pytest: the type after the last location",
        "assert 20 == 30",
        "    def test_total():\n>       assert total() == 30\nE       assert 20 == 30\n\ntests/test_cart.py:21: AssertionError\n",
        Some("AssertionError"),
    ),
    (
        "pytest: an E line",
        "",
        "E   ValueError: negative\n",
        Some("ValueError"),
    ),
    (
        "Python: the message",
        "AssertionError: assert 1 == 2",
        "",
        Some("AssertionError"),
    ),
    // JavaScript
    (
        "V8 TypeError",
        "Cannot read properties of undefined (reading 'price')",
        "TypeError: Cannot read properties of undefined (reading 'price')\n    at CartService.total (/app/src/cart.ts:42:31)\n",
        Some("TypeError"),
    ),
    (
        "Node's assert",
        "",
        "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n\n2 !== 3\n\n    at Context.<anonymous> (test/cart.spec.js:15:12)\n",
        Some("AssertionError"),
    ),
    (
        "jest",
        "",
        "Error: expect(received).toBe(expected) // Object.is equality\n    at Object.<anonymous> (/app/x.test.js:3:5)\n",
        Some("Error"),
    ),
    // .NET
    (
        ".NET",
        "",
        "System.InvalidOperationException: Cart is empty\n   at Shop.Cart.CartService.Checkout() in /src/Cart.cs:line 42\n",
        Some("System.InvalidOperationException"),
    ),
    (
        ".NET: the inner exception",
        "",
        "System.AggregateException: One or more errors occurred. (exhausted)\n ---> Shop.Stock.OutOfStockException: exhausted\n   at Shop.Stock.Repo.Get() in /src/Repo.cs:line 18\n   --- End of inner exception stack trace ---\n",
        Some("Shop.Stock.OutOfStockException"),
    ),
    (
        ".NET: the inner exception on the first line",
        "",
        "System.Reflection.TargetInvocationException: Exception has been thrown. ---> System.ArgumentNullException: Value cannot be null.\n   at Shop.A.B()\n",
        Some("System.ArgumentNullException"),
    ),
    (
        "NUnit's message",
        "System.ArgumentException : quantity must be positive",
        "   at Shop.Cart.Add(Int32 q) in /src/Cart.cs:line 9\n",
        Some("System.ArgumentException"),
    ),
    // Rust and Go
    (
        "Rust panic",
        "assertion `left == right` failed",
        "thread 'cart::tests::adds_item' panicked at src/cart.rs:42:9:\nassertion `left == right` failed\n",
        Some("panic"),
    ),
    (
        "Rust panic in the message",
        "thread 'main' panicked at src/main.rs:2:5:\nboom",
        "",
        Some("panic"),
    ),
    (
        "Go panic",
        "",
        "panic: runtime error: index out of range [5] with length 3 [recovered]\n\tpanic: runtime error\n\ngoroutine 7 [running]:\n",
        Some("panic"),
    ),
    // Ruby
    (
        "Ruby",
        "",
        "/app/lib/shop/cart.rb:42:in `add': undefined method `price' for nil:NilClass (NoMethodError)\n\tfrom /app/spec/cart_spec.rb:10:in `<main>'\n",
        Some("NoMethodError"),
    ),
    (
        "RSpec's message",
        "RSpec::Expectations::ExpectationNotMetError: expected: 30 got: 20",
        "# ./lib/shop/cart.rb:29:in 'Shop::Cart#total'\n",
        Some("RSpec::Expectations::ExpectationNotMetError"),
    ),
    // None
    (
        "an assertion message",
        "expected: <1> but was: <2>",
        "",
        None,
    ),
    (
        "NUnit's assertion message",
        "  Expected: 3\n  But was:  2\n",
        "   at Shop.Tests.T.A() in /src/T.cs:line 3\n",
        None,
    ),
    (
        "a Go test's message",
        "cart_test.go:10: expected 1, got 2",
        "",
        None,
    ),
    ("nothing", "", "", None),
    ("a sentence", "Timeout waiting for the page", "", None),
];

#[test]
fn the_exception_type_comes_from_the_trace_or_else_the_message() {
    for (what, message, trace, expected) in CASES {
        assert_eq!(
            exception_type(message, trace).as_deref(),
            *expected,
            "{what}"
        );
    }
}
