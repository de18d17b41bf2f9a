use super::{Case, check, check_same};

const JUNIT5_ASSERTION: &str = "org.opentest4j.AssertionFailedError: expected: <2> but was: <1>\n\
    \tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)\n\
    \tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)\n\
    \tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:563)\n\
    \tat com.shop.cart.CartServiceTest.addsItem(CartServiceTest.java:42)\n\
    \tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)\n\
    \tat java.base/java.lang.reflect.Method.invoke(Method.java:580)\n\
    \tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)\n\
    \tat org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)\n";

const CAUSED_BY: &str = "java.lang.IllegalStateException: Failed to add item\n\
    \tat com.shop.cart.CartController.add(CartController.java:31)\n\
    \tat com.shop.cart.CartController$$EnhancerBySpringCGLIB$$1a2b3c.add(<generated>)\n\
    \tat org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)\n\
    \tat java.base/java.lang.Thread.run(Thread.java:1583)\n\
    Caused by: com.shop.cart.OutOfStockException: sku-42\n\
    \tat com.shop.stock.StockService.lambda$reserve$0(StockService.java:88)\n\
    \tat java.base/java.util.Optional.orElseThrow(Optional.java:403)\n\
    \tat com.shop.stock.StockService.reserve(StockService.java:88)\n\
    \tat com.shop.cart.CartService.add(CartService.java:57)\n\
    \tat com.shop.cart.CartController.add(CartController.java:29)\n\
    \t... 3 more\n";

const GENERATED: &str = "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null\n\
    \tat com.shop.cart.Item.lambda$validate$0(Item.java:14)\n\
    \tat com.shop.cart.Item$$Lambda$123/0x0000000800c0b040.apply(Unknown Source)\n\
    \tat java.base/java.util.stream.ReferencePipeline$3$1.accept(ReferencePipeline.java:197)\n\
    \tat com.shop.cart.Item.validate(Item.java:15)\n\
    \tat com.shop.cart.Cart$1.run(Cart.java:30)\n\
    \tat jdk.proxy2/jdk.proxy2.$Proxy45.add(Unknown Source)\n\
    \tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n\
    \tat com.shop.cart.CartService$MockitoMock$1827364.add(CartService.java)\n\
    \tat app//com.shop.cart.CartTest.adds(CartTest.java:12) ~[test-classes/:na]\n";

const SUPPRESSED: &str = "java.io.IOException: close failed\n\
    \tat com.shop.io.Archive.close(Archive.java:50)\n\
    \tat com.shop.io.ArchiveTest.writes(ArchiveTest.java:20)\n\
    \tSuppressed: java.lang.IllegalStateException: flush failed\n\
    \t\tat com.shop.io.Archive.flush(Archive.java:70)\n\
    \t\t... 1 more\n\
    \tCaused by: java.lang.RuntimeException: disk\n\
    \t\tat com.shop.io.Disk.write(Disk.java:9)\n\
    \t\t... 2 more\n\
    Caused by: java.net.SocketException: reset\n\
    \tat com.shop.io.Remote.send(Remote.java:12)\n\
    \tat com.shop.io.Archive.close(Archive.java:48)\n\
    \t... 1 more\n";

const KOTLIN_COROUTINE: &str = "java.lang.IllegalStateException: cart is locked\n\
    \tat com.shop.cart.CartService.add$suspendImpl(CartService.kt:42)\n\
    \tat com.shop.cart.CartService$add$1.invokeSuspend(CartService.kt)\n\
    \tat kotlin.coroutines.jvm.internal.BaseContinuationImpl.resumeWith(ContinuationImpl.kt:33)\n\
    \tat kotlinx.coroutines.DispatchedTask.run(DispatchedTask.kt:108)\n\
    \tat com.shop.cart.CartService.checkout$default(CartService.kt:40)\n\
    \tat com.shop.cart.CartServiceTest$adds item to cart$1.invokeSuspend(CartServiceTest.kt:25)\n\
    \tat com.shop.cart.CartServiceTest.adds item to cart(CartServiceTest.kt:24)\n\
    \tat _COROUTINE._BOUNDARY._(CoroutineDebugging.kt:46)\n";

const SCALA: &str = "scala.MatchError: Pending (of class com.shop.Order$Pending$)\n\
    \tat com.shop.OrderService.$anonfun$ship$1(OrderService.scala:27)\n\
    \tat scala.collection.immutable.List.map(List.scala:246)\n\
    \tat com.shop.OrderService.ship(OrderService.scala:26)\n\
    \tat com.shop.Prices$.total(Prices.scala:10)\n\
    \tat com.shop.OrderServiceSpec$$anonfun$1.apply$mcV$sp(OrderServiceSpec.scala:14)\n\
    \tat com.shop.OrderServiceSpec.$anonfun$new$1(OrderServiceSpec.scala:14)\n\
    \tat org.scalatest.OutcomeOf.outcomeOf(OutcomeOf.scala:85)\n";

#[test]
fn java_traces_give_their_frames() {
    check(&[
        Case {
            name: "JUnit 5 assertion",
            trace: JUNIT5_ASSERTION,
            frames: &[
                (
                    "org.junit.jupiter.api.AssertionFailureBuilder::build",
                    Some("AssertionFailureBuilder.java"),
                ),
                (
                    "org.junit.jupiter.api.AssertEquals::failNotEqual",
                    Some("AssertEquals.java"),
                ),
                (
                    "org.junit.jupiter.api.Assertions::assertEquals",
                    Some("Assertions.java"),
                ),
                (
                    "com.shop.cart.CartServiceTest::addsItem",
                    Some("CartServiceTest.java"),
                ),
                (
                    "jdk.internal.reflect.DirectMethodHandleAccessor::invoke",
                    Some("DirectMethodHandleAccessor.java"),
                ),
                ("java.lang.reflect.Method::invoke", Some("Method.java")),
                (
                    "org.junit.platform.commons.util.ReflectionUtils::invokeMethod",
                    Some("ReflectionUtils.java"),
                ),
                (
                    "org.apache.maven.surefire.booter.ForkedBooter::main",
                    Some("ForkedBooter.java"),
                ),
            ],
        },
        Case {
            name: "the root cause, completed with the frames `... 3 more` leaves out",
            trace: CAUSED_BY,
            frames: &[
                (
                    "com.shop.stock.StockService::reserve",
                    Some("StockService.java"),
                ),
                ("java.util.Optional::orElseThrow", Some("Optional.java")),
                (
                    "com.shop.stock.StockService::reserve",
                    Some("StockService.java"),
                ),
                ("com.shop.cart.CartService::add", Some("CartService.java")),
                // The CGLIB proxy of the controller, the next frame, counts once.
                (
                    "com.shop.cart.CartController::add",
                    Some("CartController.java"),
                ),
                (
                    "org.junit.jupiter.engine.execution.MethodInvocation::proceed",
                    Some("MethodInvocation.java"),
                ),
                ("java.lang.Thread::run", Some("Thread.java")),
            ],
        },
        Case {
            name: "lambdas, hidden classes, anonymous classes, proxies, mocks, loaders",
            trace: GENERATED,
            frames: &[
                ("com.shop.cart.Item::validate", Some("Item.java")),
                ("com.shop.cart.Item::apply", None),
                (
                    "java.util.stream.ReferencePipeline::accept",
                    Some("ReferencePipeline.java"),
                ),
                ("com.shop.cart.Item::validate", Some("Item.java")),
                ("com.shop.cart.Cart::run", Some("Cart.java")),
                ("jdk.proxy2.$Proxy::add", None),
                (
                    "jdk.internal.reflect.NativeMethodAccessorImpl::invoke0",
                    None,
                ),
                ("com.shop.cart.CartService::add", Some("CartService.java")),
                ("com.shop.cart.CartTest::adds", Some("CartTest.java")),
            ],
        },
        Case {
            name: "suppressed exceptions are skipped",
            trace: SUPPRESSED,
            frames: &[
                ("com.shop.io.Remote::send", Some("Remote.java")),
                ("com.shop.io.Archive::close", Some("Archive.java")),
                ("com.shop.io.ArchiveTest::writes", Some("ArchiveTest.java")),
            ],
        },
        Case {
            name: "logback: packaging data and omitted common frames",
            trace: "java.lang.IllegalStateException: boom\n\
                \tat com.shop.Jobs.run(Jobs.java:5) ~[shop.jar:1.4.2]\n\
                \tat java.base/java.lang.Thread.run(Thread.java:1583) [na:na]\n\
                Caused by: java.sql.SQLException: timeout\n\
                \tat com.shop.Db.query(Db.java:77) ~[shop.jar:1.4.2]\n\
                \t... 1 common frames omitted\n",
            frames: &[
                ("com.shop.Db::query", Some("Db.java")),
                ("java.lang.Thread::run", Some("Thread.java")),
            ],
        },
        Case {
            name: "a cause without frames of its own keeps the enclosing trace's",
            trace: "java.util.concurrent.ExecutionException: boom\n\
                \tat com.shop.Jobs.await(Jobs.java:5)\n\
                Caused by: java.lang.IllegalStateException: boom\n",
            frames: &[("com.shop.Jobs::await", Some("Jobs.java"))],
        },
    ]);
}

#[test]
fn kotlin_and_scala_traces_give_their_frames() {
    check(&[
        Case {
            name: "Kotlin coroutines, $suspendImpl, $default, test names with spaces",
            trace: KOTLIN_COROUTINE,
            frames: &[
                ("com.shop.cart.CartService::add", Some("CartService.kt")),
                (
                    "com.shop.cart.CartService$add::invokeSuspend",
                    Some("CartService.kt"),
                ),
                (
                    "kotlin.coroutines.jvm.internal.BaseContinuationImpl::resumeWith",
                    Some("ContinuationImpl.kt"),
                ),
                (
                    "kotlinx.coroutines.DispatchedTask::run",
                    Some("DispatchedTask.kt"),
                ),
                (
                    "com.shop.cart.CartService::checkout",
                    Some("CartService.kt"),
                ),
                (
                    "com.shop.cart.CartServiceTest$adds item to cart::invokeSuspend",
                    Some("CartServiceTest.kt"),
                ),
                (
                    "com.shop.cart.CartServiceTest::adds item to cart",
                    Some("CartServiceTest.kt"),
                ),
                ("_COROUTINE._BOUNDARY::_", Some("CoroutineDebugging.kt")),
            ],
        },
        Case {
            name: "Scala closures old and new, objects",
            trace: SCALA,
            frames: &[
                ("com.shop.OrderService::ship", Some("OrderService.scala")),
                ("scala.collection.immutable.List::map", Some("List.scala")),
                ("com.shop.OrderService::ship", Some("OrderService.scala")),
                ("com.shop.Prices::total", Some("Prices.scala")),
                (
                    "com.shop.OrderServiceSpec::<lambda>",
                    Some("OrderServiceSpec.scala"),
                ),
                (
                    "com.shop.OrderServiceSpec::new",
                    Some("OrderServiceSpec.scala"),
                ),
                (
                    "org.scalatest.OutcomeOf::outcomeOf",
                    Some("OutcomeOf.scala"),
                ),
            ],
        },
    ]);
}

#[test]
fn the_same_jvm_failure_elsewhere_gives_the_same_frames() {
    check_same(&[
        (
            "shifted lines, another lambda and hidden class, JDK 21's hidden class name",
            GENERATED,
            "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null\n\
            \tat com.shop.cart.Item.lambda$validate$3(Item.java:19)\n\
            \tat com.shop.cart.Item$$Lambda/0x000001f2a8c4e2d0.apply(Unknown Source)\n\
            \tat java.base/java.util.stream.ReferencePipeline$3$1.accept(ReferencePipeline.java:197)\n\
            \tat com.shop.cart.Item.validate(Item.java:20)\n\
            \tat com.shop.cart.Cart$2.run(Cart.java:35)\n\
            \tat jdk.proxy2/jdk.proxy2.$Proxy61.add(Unknown Source)\n\
            \tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n\
            \tat com.shop.cart.CartService$MockitoMock$99120.add(CartService.java)\n\
            \tat com.shop.cart.CartTest.adds(CartTest.java:14)\n",
        ),
        (
            "another CGLIB suffix and shifted lines",
            CAUSED_BY,
            "java.lang.IllegalStateException: Failed to add item\n\
            \tat com.shop.cart.CartController.add(CartController.java:35)\n\
            \tat com.shop.cart.CartController$$EnhancerBySpringCGLIB$$9f8e7d.add(<generated>)\n\
            \tat org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)\n\
            \tat java.base/java.lang.Thread.run(Thread.java:1583)\n\
            Caused by: com.shop.cart.OutOfStockException: sku-7\n\
            \tat com.shop.stock.StockService.lambda$reserve$2(StockService.java:91)\n\
            \tat java.base/java.util.Optional.orElseThrow(Optional.java:403)\n\
            \tat com.shop.stock.StockService.reserve(StockService.java:91)\n\
            \tat com.shop.cart.CartService.add(CartService.java:60)\n\
            \tat com.shop.cart.CartController.add(CartController.java:33)\n\
            \t... 3 more\n",
        ),
        (
            "Scala closures renumbered",
            SCALA,
            "scala.MatchError: Pending (of class com.shop.Order$Pending$)\n\
            \tat com.shop.OrderService.$anonfun$ship$4(OrderService.scala:30)\n\
            \tat scala.collection.immutable.List.map(List.scala:246)\n\
            \tat com.shop.OrderService.ship(OrderService.scala:29)\n\
            \tat com.shop.Prices$.total(Prices.scala:12)\n\
            \tat com.shop.OrderServiceSpec$$anonfun$2.apply$mcV$sp(OrderServiceSpec.scala:15)\n\
            \tat com.shop.OrderServiceSpec.$anonfun$new$2(OrderServiceSpec.scala:15)\n\
            \tat org.scalatest.OutcomeOf.outcomeOf(OutcomeOf.scala:85)\n",
        ),
    ]);
}
