use super::{Case, check, check_same};

const TRACEBACK: &str = r#"Traceback (most recent call last):
  File "/app/tests/test_cart.py", line 12, in test_add_negative
    self.cart.add_item("sku-1", -1)
  File "/app/shop/cart.py", line 42, in add_item
    self._validate(quantity)
    ~~~~~~~~~~~~~~^^^^^^^^^^
  File "/app/shop/cart.py", line 57, in _validate
    raise ValueError(f"invalid quantity: {quantity}")
ValueError: invalid quantity: -1
"#;

const CHAINED: &str = r#"Traceback (most recent call last):
  File "/app/shop/db.py", line 20, in fetch
    return self.rows[key]
           ~~~~~~~~~^^^^^
KeyError: 'sku-1'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/usr/lib/python3.12/unittest/case.py", line 58, in testPartExecutor
    yield
  File "/app/tests/test_stock.py", line 9, in test_reserve
    self.stock.reserve("sku-1")
  File "/app/shop/stock.py", line 31, in reserve
    raise LookupError(f"unknown sku {sku}")
LookupError: unknown sku sku-1
"#;

const PYTEST_LONG: &str = r#"    def test_add_negative():
        cart = Cart()
>       cart.add_item("sku-1", -1)

tests/test_cart.py:12: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
shop/cart.py:30: in add_item
    self._validate(quantity)
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

self = <shop.cart.Cart object at 0x7f3b2c1d0e50>, quantity = -1

    def _validate(self, quantity):
        if quantity < 0:
>           raise ValueError(f"invalid quantity: {quantity}")
E           ValueError: invalid quantity: -1

shop/cart.py:42: ValueError
"#;

#[test]
fn python_tracebacks_give_their_frames_most_recent_first() {
    check(&[
        Case {
            name: "a traceback",
            trace: TRACEBACK,
            frames: &[
                ("cart.py::_validate", Some("/app/shop/cart.py")),
                ("cart.py::add_item", Some("/app/shop/cart.py")),
                (
                    "test_cart.py::test_add_negative",
                    Some("/app/tests/test_cart.py"),
                ),
            ],
        },
        Case {
            name: "a chain: the last traceback",
            trace: CHAINED,
            frames: &[
                ("stock.py::reserve", Some("/app/shop/stock.py")),
                (
                    "test_stock.py::test_reserve",
                    Some("/app/tests/test_stock.py"),
                ),
                (
                    "case.py::testPartExecutor",
                    Some("/usr/lib/python3.12/unittest/case.py"),
                ),
            ],
        },
        Case {
            name: "installed packages, frozen modules, module-level code, a syntax error",
            trace: r#"Traceback (most recent call last):
  File "/app/.venv/lib/python3.11/site-packages/_pytest/python.py", line 194, in pytest_pyfunc_call
    result = testfunction(**testargs)
  File "/app/tests/test_orders.py", line 3, in <module>
    from shop import orders
  File "<frozen importlib._bootstrap>", line 1176, in _find_and_load
  File "/app/shop/orders.py", line 88
    def ship(order_id)
                      ^
SyntaxError: expected ':'
"#,
            frames: &[
                ("orders.py::<module>", Some("/app/shop/orders.py")),
                (
                    "<frozen importlib._bootstrap>::_find_and_load",
                    Some("<frozen importlib._bootstrap>"),
                ),
                (
                    "test_orders.py::<module>",
                    Some("/app/tests/test_orders.py"),
                ),
                (
                    "python.py::pytest_pyfunc_call",
                    Some("/app/.venv/lib/python3.11/site-packages/_pytest/python.py"),
                ),
            ],
        },
    ]);
}

#[test]
fn pytest_reports_give_their_frames_most_recent_first() {
    check(&[
        Case {
            name: "long and short entries",
            trace: PYTEST_LONG,
            frames: &[
                ("cart.py::_validate", Some("shop/cart.py")),
                ("cart.py::add_item", Some("shop/cart.py")),
                (
                    "test_cart.py::test_add_negative",
                    Some("tests/test_cart.py"),
                ),
            ],
        },
        Case {
            name: "an assertion in the test itself",
            trace: r#"    async def test_total(cart):
        cart.add_item("sku-1", 2)
>       assert cart.total() == 30
E       assert 20 == 30
E        +  where 20 = <bound method Cart.total of <shop.cart.Cart object at 0x7f0e>>()

tests/test_cart.py:21: AssertionError
"#,
            frames: &[("test_cart.py::test_total", Some("tests/test_cart.py"))],
        },
    ]);
}

#[test]
fn the_same_python_failure_elsewhere_gives_the_same_frames() {
    check_same(&[
        (
            "shifted lines",
            TRACEBACK,
            r#"Traceback (most recent call last):
  File "/app/tests/test_cart.py", line 15, in test_add_negative
    self.cart.add_item("sku-2", -5)
  File "/app/shop/cart.py", line 44, in add_item
    self._validate(quantity)
  File "/app/shop/cart.py", line 61, in _validate
    raise ValueError(f"invalid quantity: {quantity}")
ValueError: invalid quantity: -5
"#,
        ),
        (
            "pytest, shifted lines and another object address",
            PYTEST_LONG,
            &PYTEST_LONG
                .replace(":12: ", ":14: ")
                .replace(":30: in", ":33: in")
                .replace(":42: Val", ":47: Val")
                .replace("0x7f3b2c1d0e50", "0x7f00aa11bb22"),
        ),
    ]);
}
