use super::{Case, check, check_same};

const JEST: &str = "TypeError: Cannot read properties of undefined (reading 'price')
    at CartService.total (/app/src/cart/cart-service.ts:42:31)
    at Array.reduce (<anonymous>)
    at CartService.checkout (/app/src/cart/cart-service.ts:57:17)
    at async Promise.all (index 0)
    at Object.<anonymous> (/app/src/cart/cart-service.test.ts:18:5)
    at Promise.then.completed (/app/node_modules/jest-circus/build/utils.js:298:28)
    at new Promise (<anonymous>)
    at callAsyncCircusFn (/app/node_modules/jest-circus/build/utils.js:231:10)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
";

const MOCHA: &str = "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:

2 !== 3

    at Context.<anonymous> (test/cart.spec.js:15:12)
    at async CartService.checkout (/app/src/cart.js:30:5)
    at CartService.add [as addItem] (/app/src/cart.js:20:7)
    at new Cart (/app/src/cart.js:5:11)
    at /app/src/cart.js:10:3
    at file:///app/src/esm.mjs:3:9
    at eval (eval at <anonymous> (/app/src/loader.js:4:1), <anonymous>:1:1)
    at process.processImmediate (node:internal/timers:478:21)
";

const FIREFOX: &str = "add@http://localhost:3000/static/js/cart.js?v=1a2b:42:13
Cart.prototype.checkout/<@http://localhost:3000/static/js/cart.js:57:9
async*checkout@http://localhost:3000/static/js/cart.js:60:5
@http://localhost:3000/static/js/main.js:3:1
";

const SAFARI: &str = "add@http://localhost:3000/static/js/cart.js:42:13
forEach@[native code]
checkout@http://localhost:3000/static/js/cart.js:57:22
global code@http://localhost:3000/static/js/main.js:3:8
";

#[test]
fn v8_traces_give_their_frames() {
    check(&[
        Case {
            name: "jest",
            trace: JEST,
            frames: &[
                (
                    "cart-service.ts::CartService.total",
                    Some("/app/src/cart/cart-service.ts"),
                ),
                ("Array.reduce", None),
                (
                    "cart-service.ts::CartService.checkout",
                    Some("/app/src/cart/cart-service.ts"),
                ),
                ("Promise.all", None),
                (
                    "cart-service.test.ts::Object.<anonymous>",
                    Some("/app/src/cart/cart-service.test.ts"),
                ),
                (
                    "utils.js::Promise.then.completed",
                    Some("/app/node_modules/jest-circus/build/utils.js"),
                ),
                ("new Promise", None),
                (
                    "utils.js::callAsyncCircusFn",
                    Some("/app/node_modules/jest-circus/build/utils.js"),
                ),
                (
                    "task_queues::process.processTicksAndRejections",
                    Some("node:internal/process/task_queues"),
                ),
            ],
        },
        Case {
            name: "mocha: async, aliases, constructors, anonymous functions, ES modules, eval",
            trace: MOCHA,
            frames: &[
                (
                    "cart.spec.js::Context.<anonymous>",
                    Some("test/cart.spec.js"),
                ),
                ("cart.js::CartService.checkout", Some("/app/src/cart.js")),
                ("cart.js::CartService.add", Some("/app/src/cart.js")),
                ("cart.js::new Cart", Some("/app/src/cart.js")),
                ("cart.js::<anonymous>", Some("/app/src/cart.js")),
                ("esm.mjs::<anonymous>", Some("file:///app/src/esm.mjs")),
                ("eval", None),
                (
                    "timers::process.processImmediate",
                    Some("node:internal/timers"),
                ),
            ],
        },
    ]);
}

#[test]
fn firefox_and_safari_traces_give_their_frames() {
    check(&[
        Case {
            name: "Firefox",
            trace: FIREFOX,
            frames: &[
                (
                    "cart.js::add",
                    Some("http://localhost:3000/static/js/cart.js"),
                ),
                (
                    "cart.js::Cart.prototype.checkout",
                    Some("http://localhost:3000/static/js/cart.js"),
                ),
                (
                    "cart.js::checkout",
                    Some("http://localhost:3000/static/js/cart.js"),
                ),
                (
                    "main.js::<anonymous>",
                    Some("http://localhost:3000/static/js/main.js"),
                ),
            ],
        },
        Case {
            name: "Safari",
            trace: SAFARI,
            frames: &[
                (
                    "cart.js::add",
                    Some("http://localhost:3000/static/js/cart.js"),
                ),
                ("forEach", None),
                (
                    "cart.js::checkout",
                    Some("http://localhost:3000/static/js/cart.js"),
                ),
                (
                    "main.js::global code",
                    Some("http://localhost:3000/static/js/main.js"),
                ),
            ],
        },
    ]);
}

#[test]
fn bundles_are_known_without_their_content_hash() {
    check(&[Case {
        name: "webpack, create-react-app and Vite names",
        trace: "submit@http://localhost:3000/assets/checkout.09662ce6.js:12:3
    at render (http://localhost:3000/static/js/main.1a2b3c4d.chunk.js:40:9)
    at mount (/app/dist/assets/index-BdQq_4o7.js:1:2)
    at load (/app/dist/es2015-polyfills.js:1:2)
    at view (/app/src/cart-service.test.ts:1:2)
",
        frames: &[
            (
                "checkout.js::submit",
                Some("http://localhost:3000/assets/checkout.js"),
            ),
            (
                "main.chunk.js::render",
                Some("http://localhost:3000/static/js/main.chunk.js"),
            ),
            ("index.js::mount", Some("/app/dist/assets/index.js")),
            (
                "es2015-polyfills.js::load",
                Some("/app/dist/es2015-polyfills.js"),
            ),
            (
                "cart-service.test.ts::view",
                Some("/app/src/cart-service.test.ts"),
            ),
        ],
    }]);
}

#[test]
fn the_same_javascript_failure_elsewhere_gives_the_same_frames() {
    check_same(&[
        (
            "V8, shifted lines and columns",
            JEST,
            "TypeError: Cannot read properties of undefined (reading 'price')
    at CartService.total (/app/src/cart/cart-service.ts:45:9)
    at Array.reduce (<anonymous>)
    at CartService.checkout (/app/src/cart/cart-service.ts:61:3)
    at async Promise.all (index 2)
    at Object.<anonymous> (/app/src/cart/cart-service.test.ts:20:15)
    at Promise.then.completed (/app/node_modules/jest-circus/build/utils.js:298:28)
    at new Promise (<anonymous>)
    at callAsyncCircusFn (/app/node_modules/jest-circus/build/utils.js:231:10)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
",
        ),
        (
            "Firefox, shifted lines and another cache buster",
            FIREFOX,
            "add@http://localhost:3000/static/js/cart.js?v=9f9f:44:1
Cart.prototype.checkout/<@http://localhost:3000/static/js/cart.js:59:19
async*checkout@http://localhost:3000/static/js/cart.js:62:5
@http://localhost:3000/static/js/main.js:4:1
",
        ),
    ]);
}
