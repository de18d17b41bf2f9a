//! A labelled set of realistic failures for measuring grouping quality:
//! every language the frame parser reads, recurring failures whose line
//! numbers, ids, addresses, hosts and timings shift from run to run, and
//! different failures with near-identical text. Each failure carries the
//! problem it belongs to; a good grouping puts two failures together
//! exactly when their problems are the same.
//!
//! Deterministic: the same seed gives the same set.

/// One failure as a report gives it, with the problem it belongs to.
#[derive(Debug, Clone)]
pub struct LabelledFailure {
    pub problem: &'static str,
    pub message: String,
    pub trace: String,
}

/// A small deterministic generator (SplitMix64), so the set needs no
/// dependency and never changes between runs.
struct Values(u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn line(&mut self, around: u64) -> u64 {
        around + self.below(40)
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut text = String::new();
        while text.len() < digits {
            text.push_str(&format!("{:016x}", self.next()));
        }
        text.truncate(digits);
        text
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    fn ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.below(255),
            self.below(255),
            1 + self.below(254)
        )
    }

    fn millis(&mut self) -> u64 {
        1000 + self.below(60_000)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

type Generator = fn(&mut Values) -> (String, String);

/// The problems, each a generator of one occurrence.
const PROBLEMS: &[(&str, Generator)] = &[
    ("java-npe-cart-add", java_npe_cart_add),
    ("java-order-already-paid", java_order_already_paid),
    (
        "java-assert-status-in-order-test",
        java_assert_status_in_order_test,
    ),
    (
        "java-assert-status-in-refund-test",
        java_assert_status_in_refund_test,
    ),
    ("java-db-connection-refused", java_db_connection_refused),
    ("kotlin-coroutine-timeout", kotlin_coroutine_timeout),
    ("scala-match-error", scala_match_error),
    ("python-keyerror-cart", python_keyerror_cart),
    ("python-assert-total", python_assert_total),
    ("python-requests-connection", python_requests_connection),
    ("js-undefined-price", js_undefined_price),
    ("js-jest-total", js_jest_total),
    ("js-firefox-checkout", js_firefox_checkout),
    ("go-index-out-of-range", go_index_out_of_range),
    ("go-nil-map", go_nil_map),
    ("rust-assert-eq-cart", rust_assert_eq_cart),
    ("rust-unwrap-none-config", rust_unwrap_none_config),
    ("dotnet-sequence-empty", dotnet_sequence_empty),
    ("dotnet-nunit-total", dotnet_nunit_total),
    ("ruby-nomethod-price", ruby_nomethod_price),
    ("msg-http-503-orders", msg_http_503_orders),
    ("msg-http-404-orders", msg_http_404_orders),
    (
        "msg-selenium-timeout-checkout",
        msg_selenium_timeout_checkout,
    ),
    ("msg-disk-full", msg_disk_full),
    ("msg-oom-killed", msg_oom_killed),
    ("msg-redis-timeout", msg_redis_timeout),
];

/// The problems' names.
pub fn problems() -> impl Iterator<Item = &'static str> {
    PROBLEMS.iter().map(|(name, _)| *name)
}

/// `per_problem` occurrences of every problem: 26 problems, so 12 give 312.
pub fn labelled_failures(seed: u64, per_problem: usize) -> Vec<LabelledFailure> {
    let mut values = Values(seed);
    let mut failures = Vec::new();
    // Interleaved, as a night of builds would report them.
    for _ in 0..per_problem {
        for (problem, generate) in PROBLEMS {
            let (message, trace) = generate(&mut values);
            failures.push(LabelledFailure {
                problem,
                message,
                trace,
            });
        }
    }
    failures
}

fn junit_tail(values: &mut Values) -> String {
    format!(
        "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:{})\n\
         \tat java.base/java.lang.reflect.Method.invoke(Method.java:580)\n\
         \tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:{})\n\
         \tat org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)\n\
         \tat org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invoke(JUnitPlatformProvider.java:{})\n",
        values.line(100),
        values.line(700),
        values.line(120)
    )
}

fn java_npe_cart_add(v: &mut Values) -> (String, String) {
    let message = "java.lang.NullPointerException: Cannot invoke \"com.shop.catalog.Item.price()\" because \"item\" is null".to_owned();
    let trace = format!(
        "{message}\n\tat com.shop.cart.CartService.add(CartService.java:{})\n\
         \tat com.shop.cart.CartService.lambda$addAll${}(CartService.java:{})\n\
         \tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)\n\
         \tat com.shop.cart.CartService.addAll(CartService.java:{})\n\
         \tat com.shop.cart.CartServiceTest.addsEveryItem(CartServiceTest.java:{})\n{}",
        v.line(40),
        v.below(9),
        v.line(60),
        v.line(58),
        v.line(30),
        junit_tail(v)
    );
    (message, trace)
}

fn java_order_already_paid(v: &mut Values) -> (String, String) {
    let message = format!(
        "java.lang.IllegalStateException: order {} is already paid (paid at {}T10:{:02}:{:02}Z)",
        v.uuid(),
        v.pick(&["2026-11-20", "2026-11-21", "2026-11-25"]),
        v.below(60),
        v.below(60)
    );
    let trace = format!(
        "{message}\n\tat com.shop.orders.OrderService.checkout(OrderService.java:{})\n\
         \tat com.shop.orders.OrderService$$SpringCGLIB$$0.checkout(<generated>)\n\
         \tat com.shop.orders.OrderController.pay(OrderController.java:{})\n\
         \tat com.shop.orders.OrderControllerTest.paysOnce(OrderControllerTest.java:{})\n{}",
        v.line(110),
        v.line(70),
        v.line(40),
        junit_tail(v)
    );
    (message, trace)
}

fn assert_status(v: &mut Values, test: &str, line: u64) -> (String, String) {
    let status = v.pick(&["500", "502", "404"]);
    let message = format!("java.lang.AssertionError: expected:<201> but was:<{status}>");
    let trace = format!(
        "{message}\n\tat org.junit.Assert.fail(Assert.java:89)\n\
         \tat org.junit.Assert.failNotEquals(Assert.java:835)\n\
         \tat org.junit.Assert.assertEquals(Assert.java:647)\n\
         \tat com.shop.api.{test}(ApiTest.java:{})\n{}",
        v.line(line),
        junit_tail(v)
    );
    (message, trace)
}

fn java_assert_status_in_order_test(v: &mut Values) -> (String, String) {
    assert_status(v, "OrderApiTest.createsOrder", 80)
}

fn java_assert_status_in_refund_test(v: &mut Values) -> (String, String) {
    assert_status(v, "RefundApiTest.refundsOrder", 80)
}

fn java_db_connection_refused(v: &mut Values) -> (String, String) {
    let message = format!(
        "org.postgresql.util.PSQLException: Connection to db-{}.internal.example.com:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.",
        v.below(6)
    );
    let trace = format!(
        "{message}\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:352)\n\
         \tat org.postgresql.Driver.connect(Driver.java:297)\n\
         \tat com.zaxxer.hikari.pool.HikariPool.createPoolEntry(HikariPool.java:{})\n\
         \tat com.shop.db.OrderRepository.findById(OrderRepository.java:{})\n\
         \tat com.shop.orders.OrderService.load(OrderService.java:{})\n\
         Caused by: java.net.ConnectException: Connection refused\n\
         \tat java.base/sun.nio.ch.Net.pollConnect(Native Method)\n\
         \tat java.base/sun.nio.ch.NioSocketImpl.connect(NioSocketImpl.java:682)\n\
         \t... {} more\n",
        v.line(470),
        v.line(30),
        v.line(50),
        20 + v.below(20)
    );
    (message, trace)
}

fn kotlin_coroutine_timeout(v: &mut Values) -> (String, String) {
    let millis = v.millis();
    let message = format!(
        "kotlinx.coroutines.TimeoutCancellationException: Timed out waiting for {millis} ms"
    );
    let trace = format!(
        "{message}\n\tat kotlinx.coroutines.TimeoutKt.TimeoutCancellationException(Timeout.kt:189)\n\
         \tat com.shop.sync.InventorySync$pull$2.invokeSuspend(InventorySync.kt:{})\n\
         \tat com.shop.sync.InventorySync.pull$suspendImpl(InventorySync.kt:{})\n\
         \tat com.shop.sync.InventorySyncTest$pullsEverything$1.invokeSuspend(InventorySyncTest.kt:{})\n\
         \tat kotlin.coroutines.jvm.internal.BaseContinuationImpl.resumeWith(ContinuationImpl.kt:33)\n",
        v.line(50),
        v.line(40),
        v.line(20)
    );
    (message, trace)
}

fn scala_match_error(v: &mut Values) -> (String, String) {
    let message = format!(
        "scala.MatchError: Refund({}.{:02}) (of class com.shop.payments.Refund)",
        v.below(500),
        v.below(100)
    );
    let trace = format!(
        "{message}\n\tat com.shop.payments.Ledger.$anonfun$post${}(Ledger.scala:{})\n\
         \tat scala.collection.immutable.List.map(List.scala:247)\n\
         \tat com.shop.payments.Ledger.post(Ledger.scala:{})\n\
         \tat com.shop.payments.LedgerSpec.$anonfun$new${}(LedgerSpec.scala:{})\n\
         \tat org.scalatest.Transformer.apply(Transformer.scala:22)\n",
        1 + v.below(4),
        v.line(30),
        v.line(28),
        1 + v.below(9),
        v.line(15)
    );
    (message, trace)
}

fn python_keyerror_cart(v: &mut Values) -> (String, String) {
    let message = "KeyError: 'user_id'".to_owned();
    let trace = format!(
        "Traceback (most recent call last):\n  \
         File \"/home/ci/.venv/lib/python3.12/site-packages/_pytest/python.py\", line {}, in pytest_pyfunc_call\n    \
         result = testfunction(**testargs)\n  \
         File \"/builds/shop/tests/test_cart.py\", line {}, in test_add_item\n    \
         cart.add_item(session, item)\n  \
         File \"/builds/shop/shop/cart.py\", line {}, in add_item\n    \
         owner = session[\"user_id\"]\n\
         KeyError: 'user_id'\n",
        v.line(150),
        v.line(20),
        v.line(40)
    );
    (message, trace)
}

fn python_assert_total(v: &mut Values) -> (String, String) {
    let message = "AssertionError: assert 25 == 30\n +  where 25 = Cart.total()".to_owned();
    let trace = format!(
        "Traceback (most recent call last):\n  \
         File \"/builds/shop/tests/test_totals.py\", line {}, in test_total_includes_shipping\n    \
         assert cart.total() == 30\n\
         AssertionError: assert 25 == 30\n",
        v.line(60)
    );
    (message, trace)
}

fn python_requests_connection(v: &mut Values) -> (String, String) {
    let message = format!(
        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='api-{}.staging.example.com', port=8080): Max retries exceeded with url: /v1/orders/{} (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f{}>: Failed to establish a new connection: [Errno 111] Connection refused'))",
        v.below(4),
        v.uuid(),
        v.hex(10)
    );
    let trace = format!(
        "Traceback (most recent call last):\n  \
         File \"/home/ci/.venv/lib/python3.12/site-packages/requests/adapters.py\", line 700, in send\n    \
         raise ConnectionError(e, request=request)\n  \
         File \"/builds/shop/shop/clients/orders.py\", line {}, in fetch_order\n    \
         response = self.session.get(url, timeout=5)\n  \
         File \"/builds/shop/tests/test_orders.py\", line {}, in test_fetch\n    \
         client.fetch_order(order_id)\n\
         {message}\n",
        v.line(30),
        v.line(12)
    );
    (message, trace)
}

fn js_undefined_price(v: &mut Values) -> (String, String) {
    let message = "TypeError: Cannot read properties of undefined (reading 'price')".to_owned();
    let trace = format!(
        "{message}\n    at CartService.add (/builds/shop/src/cart/service.ts:{}:{})\n    \
         at /builds/shop/src/cart/service.ts:{}:{}\n    \
         at Array.forEach (<anonymous>)\n    \
         at CartService.addAll (/builds/shop/src/cart/service.ts:{}:{})\n    \
         at Object.<anonymous> (/builds/shop/test/cart.test.ts:{}:{})\n    \
         at Promise.then.completed (/builds/shop/node_modules/jest-circus/build/utils.js:298:28)\n    \
         at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n",
        v.line(40),
        5 + v.below(20),
        v.line(60),
        5 + v.below(20),
        v.line(58),
        5 + v.below(20),
        v.line(10),
        5 + v.below(20)
    );
    (message, trace)
}

fn js_jest_total(v: &mut Values) -> (String, String) {
    let message = "Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 30\nReceived: 25".to_owned();
    let trace = format!(
        "{message}\n    at Object.toBe (/builds/shop/test/totals.test.ts:{}:{})\n    \
         at Promise.then.completed (/builds/shop/node_modules/jest-circus/build/utils.js:298:28)\n",
        v.line(20),
        10 + v.below(30)
    );
    (message, trace)
}

fn js_firefox_checkout(v: &mut Values) -> (String, String) {
    let message = format!("TypeError: this.form is null (session {})", v.hex(12));
    let trace = format!(
        "submit@http://localhost:{}/assets/checkout.{}.js:{}:{}\n\
         onClick@http://localhost:{}/assets/checkout.{}.js:{}:{}\n\
         dispatch@http://localhost:{}/assets/vendor.{}.js:2:{}\n",
        3000 + v.below(100),
        v.hex(8),
        v.line(100),
        v.below(80),
        3000 + v.below(100),
        v.hex(8),
        v.line(200),
        v.below(80),
        3000 + v.below(100),
        v.hex(8),
        v.below(90_000)
    );
    (message, trace)
}

fn go_index_out_of_range(v: &mut Values) -> (String, String) {
    let message = format!(
        "panic: runtime error: index out of range [{}] with length {}",
        3 + v.below(5),
        v.below(3)
    );
    let trace = format!(
        "{message}\n\ngoroutine {} [running]:\n\
         shop/cart.(*Cart).Item(0xc0000{}, 0x{})\n\t/builds/shop/cart/cart.go:{} +0x{}\n\
         shop/cart.TestItem(0xc0000{})\n\t/builds/shop/cart/cart_test.go:{} +0x{}\n\
         testing.tRunner(0xc0000{}, 0x{})\n\t/usr/local/go/src/testing/testing.go:1690 +0xf4\n\
         created by testing.(*T).Run in goroutine 1\n\t/usr/local/go/src/testing/testing.go:1743 +0x390\n",
        5 + v.below(40),
        v.hex(5),
        v.hex(2),
        v.line(30),
        v.hex(2),
        v.hex(5),
        v.line(10),
        v.hex(2),
        v.hex(5),
        v.hex(6)
    );
    (message, trace)
}

fn go_nil_map(v: &mut Values) -> (String, String) {
    let message = "panic: assignment to entry in nil map".to_owned();
    let trace = format!(
        "{message}\n\ngoroutine {} [running]:\n\
         shop/inventory.(*Store).Put(...)\n\t/builds/shop/inventory/store.go:{}\n\
         shop/inventory.TestPut(0xc0000{})\n\t/builds/shop/inventory/store_test.go:{} +0x{}\n\
         testing.tRunner(0xc0000{}, 0x{})\n\t/usr/local/go/src/testing/testing.go:1690 +0xf4\n",
        5 + v.below(40),
        v.line(20),
        v.hex(5),
        v.line(10),
        v.hex(2),
        v.hex(5),
        v.hex(6)
    );
    (message, trace)
}

fn rust_assert_eq_cart(v: &mut Values) -> (String, String) {
    let line = v.line(40);
    let message = format!(
        "thread 'cart::tests::adds_items' panicked at src/cart.rs:{line}:9:\nassertion `left == right` failed\n  left: 3\n right: 4"
    );
    let trace = format!(
        "{message}\nstack backtrace:\n   0: rust_begin_unwind\n             at /rustc/{}/library/std/src/panicking.rs:665:5\n   \
         1: core::panicking::assert_failed\n   \
         2: shop::cart::tests::adds_items\n             at ./src/cart.rs:{line}:9\n   \
         3: shop::cart::tests::adds_items::{{{{closure}}}}\n             at ./src/cart.rs:{}:20\n   \
         4: core::ops::function::FnOnce::call_once\n",
        v.hex(40),
        line - 10
    );
    (message, trace)
}

fn rust_unwrap_none_config(v: &mut Values) -> (String, String) {
    let message = format!(
        "thread 'tokio-runtime-worker' panicked at src/config.rs:{}:44:\ncalled `Option::unwrap()` on a `None` value",
        v.line(80)
    );
    let trace = format!(
        "{message}\nstack backtrace:\n   \
         0: rust_begin_unwind\n   \
         1: core::option::unwrap_failed\n   \
         2: shop::config::Settings::database_url::h{}\n             at ./src/config.rs:{}:44\n   \
         3: shop::db::connect::{{{{closure}}}}::h{}\n             at ./src/db.rs:{}:15\n",
        v.hex(16),
        v.line(80),
        v.hex(16),
        v.line(20)
    );
    (message, trace)
}

fn dotnet_sequence_empty(v: &mut Values) -> (String, String) {
    let message = "System.InvalidOperationException : Sequence contains no elements".to_owned();
    let trace = format!(
        "   at System.Linq.ThrowHelper.ThrowNoElementsException()\n   \
         at System.Linq.Enumerable.First[TSource](IEnumerable`1 source)\n   \
         at Shop.Cart.CartService.Cheapest() in C:\\builds\\shop\\src\\Cart\\CartService.cs:line {}\n   \
         at Shop.Cart.CartService.<>c__DisplayClass{}_0.<Discount>b__0(Item i) in C:\\builds\\shop\\src\\Cart\\CartService.cs:line {}\n   \
         at Shop.Tests.CartServiceTests.DiscountsCheapest() in C:\\builds\\shop\\tests\\CartServiceTests.cs:line {}\n",
        v.line(50),
        v.below(9),
        v.line(70),
        v.line(30)
    );
    (message, trace)
}

fn dotnet_nunit_total(v: &mut Values) -> (String, String) {
    let message = "  Expected: 30\n  But was:  25\n".to_owned();
    let trace = format!(
        "   at Shop.Tests.TotalsTests.IncludesShipping() in /builds/shop/tests/TotalsTests.cs:line {}\n   \
         at System.RuntimeMethodHandle.InvokeMethod(Object target, Void** arguments, Signature sig, Boolean isConstructor)\n",
        v.line(20)
    );
    (message, trace)
}

fn ruby_nomethod_price(v: &mut Values) -> (String, String) {
    let message = "NoMethodError: undefined method `price' for nil:NilClass".to_owned();
    let trace = format!(
        "/builds/shop/app/models/cart.rb:{}:in `block in total'\n\
         /builds/shop/app/models/cart.rb:{}:in `each'\n\
         /builds/shop/app/models/cart.rb:{}:in `total'\n\
         /builds/shop/spec/models/cart_spec.rb:{}:in `block (2 levels) in <top (required)>'\n\
         /home/ci/.gem/ruby/3.3.0/gems/rspec-core-3.13.0/lib/rspec/core/example.rb:263:in `instance_exec'\n",
        v.line(20),
        v.line(19),
        v.line(18),
        v.line(10)
    );
    (message, trace)
}

fn msg_http_503_orders(v: &mut Values) -> (String, String) {
    (
        format!(
            "GET https://orders-{}.staging.example.com/v1/orders/{} returned HTTP 503 Service Unavailable after {} ms",
            v.below(3),
            v.uuid(),
            v.millis()
        ),
        String::new(),
    )
}

fn msg_http_404_orders(v: &mut Values) -> (String, String) {
    (
        format!(
            "GET https://orders-{}.staging.example.com/v1/orders/{} returned HTTP 404 Not Found after {} ms",
            v.below(3),
            v.uuid(),
            v.millis()
        ),
        String::new(),
    )
}

fn msg_selenium_timeout_checkout(v: &mut Values) -> (String, String) {
    (
        format!(
            "{} ERROR [pool-{}-thread-{}] Timed out after {} milliseconds waiting for visibility of element located by By.cssSelector: #checkout-button (tried for {} second(s) with 500 milliseconds interval)",
            format_args!(
                "2026-11-{:02}T0{}:{:02}:{:02}.{:03}Z",
                1 + v.below(28),
                v.below(10),
                v.below(60),
                v.below(60),
                v.below(1000)
            ),
            1 + v.below(4),
            1 + v.below(8),
            10_000 + v.below(20) * 1000,
            10 + v.below(20)
        ),
        String::new(),
    )
}

fn msg_disk_full(v: &mut Values) -> (String, String) {
    (
        format!(
            "java.io.IOException: No space left on device: /tmp/junit{}/reports/run-{}.xml",
            v.below(1_000_000_000),
            v.hex(8)
        ),
        String::new(),
    )
}

fn msg_oom_killed(v: &mut Values) -> (String, String) {
    (
        format!(
            "The forked VM terminated without properly saying goodbye. VM crash or System.exit called? Command was /bin/sh -c cd /builds/shop/target && /usr/lib/jvm/java-17/bin/java -Xmx{}m -jar /builds/shop/target/surefire/surefirebooter{}.jar /builds/shop/target/surefire {}-jvmRun1 surefire{}tmp",
            512 * (1 + v.below(4)),
            v.below(1_000_000_000_000),
            format_args!(
                "2026-11-{:02}T10-{:02}-{:02}_{:03}",
                1 + v.below(28),
                v.below(60),
                v.below(60),
                v.below(1000)
            ),
            v.below(1_000_000_000_000)
        ),
        String::new(),
    )
}

fn msg_redis_timeout(v: &mut Values) -> (String, String) {
    (
        format!(
            "io.lettuce.core.RedisCommandTimeoutException: Command timed out after {} second(s) talking to {}:6379",
            1 + v.below(9),
            v.ip()
        ),
        String::new(),
    )
}
