use super::{Case, check, check_same};

const NUNIT_ASYNC: &str = r"System.InvalidOperationException: Cart is empty
   at Shop.Cart.CartService.Checkout(Customer customer) in C:\src\Shop\Cart\CartService.cs:line 42
   at Shop.Cart.CartService.<CheckoutAsync>d__5.MoveNext() in C:\src\Shop\Cart\CartService.cs:line 57
--- End of stack trace from previous location ---
   at System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw()
   at System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess(Task task)
   at Shop.Tests.CartServiceTests.<>c__DisplayClass3_0.<Checkout_EmptyCart_Throws>b__0() in C:\src\Shop.Tests\CartServiceTests.cs:line 31
   at NUnit.Framework.Assert.Throws(IResolveConstraint expression, TestDelegate code, String message, Object[] args)
";

const INNER_EXCEPTION: &str = "System.AggregateException: One or more errors occurred. (Stock for sku-1 is exhausted)
 ---> Shop.Stock.OutOfStockException: Stock for sku-1 is exhausted
   at Shop.Stock.Repository`1.Get[TKey](TKey key) in /src/Shop/Stock/Repository.cs:line 18
   at Shop.Stock.StockService.<Reserve>g__Take|4_0(String sku) in /src/Shop/Stock/StockService.cs:line 40
   at Shop.Stock.StockService.<>c.<Reserve>b__4_1(String sku) in /src/Shop/Stock/StockService.cs:line 33
   at System.Linq.Enumerable.SelectListIterator`2.MoveNext()
   at Shop.Stock.Reservation..ctor(IEnumerable`1 skus) in /src/Shop/Stock/Reservation.cs:line 12
   --- End of inner exception stack trace ---
   at System.Threading.Tasks.Task.Wait()
   at Shop.Tests.StockTests.Reserve_Exhausted() in /src/Shop.Tests/StockTests.cs:line 22
";

#[test]
fn dotnet_traces_give_their_frames() {
    check(&[
        Case {
            name: "async state machines and lambdas",
            trace: NUNIT_ASYNC,
            frames: &[
                (
                    "Shop.Cart.CartService::Checkout",
                    Some(r"C:\src\Shop\Cart\CartService.cs"),
                ),
                (
                    "Shop.Cart.CartService::CheckoutAsync",
                    Some(r"C:\src\Shop\Cart\CartService.cs"),
                ),
                (
                    "System.Runtime.ExceptionServices.ExceptionDispatchInfo::Throw",
                    None,
                ),
                (
                    "System.Runtime.CompilerServices.TaskAwaiter::ThrowForNonSuccess",
                    None,
                ),
                (
                    "Shop.Tests.CartServiceTests::Checkout_EmptyCart_Throws",
                    Some(r"C:\src\Shop.Tests\CartServiceTests.cs"),
                ),
                ("NUnit.Framework.Assert::Throws", None),
            ],
        },
        Case {
            name: "the inner exception; generics, local functions, constructors",
            trace: INNER_EXCEPTION,
            frames: &[
                (
                    "Shop.Stock.Repository::Get",
                    Some("/src/Shop/Stock/Repository.cs"),
                ),
                (
                    "Shop.Stock.StockService::Reserve",
                    Some("/src/Shop/Stock/StockService.cs"),
                ),
                ("System.Linq.Enumerable.SelectListIterator::MoveNext", None),
                (
                    "Shop.Stock.Reservation::.ctor",
                    Some("/src/Shop/Stock/Reservation.cs"),
                ),
            ],
        },
    ]);
}

#[test]
fn the_same_dotnet_failure_elsewhere_gives_the_same_frames() {
    check_same(&[(
        "shifted lines, other state machine and lambda numbers",
        NUNIT_ASYNC,
        r"System.InvalidOperationException: Cart is empty
   at Shop.Cart.CartService.Checkout(Customer customer) in C:\src\Shop\Cart\CartService.cs:line 45
   at Shop.Cart.CartService.<CheckoutAsync>d__7.MoveNext() in C:\src\Shop\Cart\CartService.cs:line 60
--- End of stack trace from previous location ---
   at System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw()
   at System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess(Task task)
   at Shop.Tests.CartServiceTests.<>c__DisplayClass4_0.<Checkout_EmptyCart_Throws>b__1() in C:\src\Shop.Tests\CartServiceTests.cs:line 33
   at NUnit.Framework.Assert.Throws(IResolveConstraint expression, TestDelegate code, String message, Object[] args)
",
    )]);
}
