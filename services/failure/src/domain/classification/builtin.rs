//! The built-in rules: what most failures of a kind say, in any language.
//!
//! Tried in the order of [`BUILTIN_RULES`], after the project's own rules;
//! the first that matches gives its label, with its confidence (below 1:
//! a rule is a guess from the text). Text rules search the exception type
//! and the first [`SEARCHED_MESSAGE_BYTES`] of the message, ASCII case
//! insensitive; the two code rules look at the top (innermost) frame of
//! the failure's signature, which is its deepest in-app frame when it has
//! one.

use std::sync::LazyLock;

use regex::Regex;

use super::{FailureFacts, Label};
use crate::domain::FailureKind;
use crate::domain::signature::frames::{Frame, KEY_SEPARATOR};
use crate::domain::signature::in_app::InAppRules;

/// How much of a message the text rules search: the cause is stated at the
/// start, and a long message (a page of HTML, a log dump) is not read in
/// full for every group.
pub const SEARCHED_MESSAGE_BYTES: usize = 8 * 1024;

/// What a built-in rule looks at.
#[derive(Debug, Clone, Copy)]
pub enum Matcher {
    /// A pattern on the exception type or the message.
    Text(&'static str),
    /// An error (not an assertion) thrown with test code on top of the stack.
    ErrorInTestCode,
    /// An assertion failure whose deepest in-app frame is product code.
    AssertionInProductCode,
}

/// A built-in rule: its name (as explanations give it), its label, its
/// confidence and what it matches.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinRule {
    pub name: &'static str,
    pub label: Label,
    pub confidence: f64,
    pub matcher: Matcher,
}

const fn text(
    name: &'static str,
    label: Label,
    confidence: f64,
    pattern: &'static str,
) -> BuiltinRule {
    BuiltinRule {
        name,
        label,
        confidence,
        matcher: Matcher::Text(pattern),
    }
}

/// Every built-in rule, in the order they are tried. Infrastructure first:
/// a locator that timed out because the service behind it was down is an
/// outage, not a broken test.
#[rustfmt::skip]
pub const BUILTIN_RULES: &[BuiltinRule] = &[
    text("connection_refused_or_reset", Label::Infrastructure, 0.85,
         r"connection (?:was )?(?:refused|reset)|ECONNREFUSED|ECONNRESET|ConnectException|broken pipe|connection closed by (?:the )?(?:peer|remote)"),
    text("dns_failure", Label::Infrastructure, 0.85,
         r"UnknownHostException|ENOTFOUND|EAI_AGAIN|getaddrinfo|name or service not known|temporary failure in name resolution|no such host|could not resolve host|NXDOMAIN"),
    text("timeout_to_service", Label::Infrastructure, 0.75,
         r"SocketTimeoutException|ConnectTimeout|ReadTimeout|HttpTimeoutException|ETIMEDOUT|ESOCKETTIMEDOUT|(?:connect|connection|read|socket|request|gateway|upstream)[ -]?(?:timed out|timeout)|deadline exceeded"),
    text("out_of_memory", Label::Infrastructure, 0.85,
         r"OutOfMemoryError|out of memory|OOMKilled|MemoryError|cannot allocate memory|ENOMEM|memory allocation of [0-9]+ bytes failed"),
    text("disk_full", Label::Infrastructure, 0.9,
         r"no space left on device|ENOSPC|disk (?:is )?full|disk quota exceeded"),
    text("http_gateway_error", Label::Infrastructure, 0.8,
         r"\b50[234] (?:bad gateway|service unavailable|gateway time-?out)\b|\bbad gateway\b|\bservice unavailable\b|\bgateway time-?out\b|\b(?:http|status|status code|response code|statuscode)[ :=]*50[234]\b"),
    text("runner_or_container_error", Label::Infrastructure, 0.8,
         r"OCI runtime|ImagePullBackOff|ErrImagePull|CrashLoopBackOff|\bpod [a-z0-9._-]+ (?:was )?evicted|\bcontainer [ -~]{0,60}(?:exited|was killed|is not running|failed to start|not found)|\b(?:runner|agent|executor|worker) [ -~]{0,60}(?:lost|disconnected|shut ?down|terminated|went away)|lost communication with the server|received a shutdown signal|exit code 137|cannot connect to the docker daemon"),
    text("element_not_found", Label::AutomationBug, 0.8,
         r"NoSuchElementException|ElementNotFound|element not found|unable to locate element|no element found|element (?:is )?not (?:visible|interactable|clickable)|ElementNotInteractableException|ElementClickInterceptedException|waiting for (?:selector|locator)|locator[ -~]{0,80}(?:resolved to 0 elements|not found)|cy\.get\(\) [ -~]{0,40}never found"),
    text("stale_element", Label::AutomationBug, 0.85,
         r"StaleElementReferenceException|stale element|element is not attached to the (?:page )?document|detached from (?:the )?DOM"),
    text("fixture_setup_teardown_error", Label::AutomationBug, 0.75,
         r"error at (?:setup|teardown) of|fixture '[ -&(-~]{1,200}' not found|\b(?:before|after)(?:all|each|class|method)?\b[ -~]{0,20}hook|\bin (?:setup|setUp|teardown|tearDown|setUpClass|tearDownClass)\b|(?:setup|set up|teardown|tear down|fixture) (?:failed|error)"),
    BuiltinRule { name: "error_in_test_code", label: Label::AutomationBug, confidence: 0.6,
                  matcher: Matcher::ErrorInTestCode },
    BuiltinRule { name: "assertion_in_product_code", label: Label::ProductBug, confidence: 0.6,
                  matcher: Matcher::AssertionInProductCode },
];

/// The text rules' patterns, compiled once per process, each ASCII case
/// insensitive; `None` for the code rules.
static COMPILED: LazyLock<Vec<Option<Regex>>> = LazyLock::new(|| {
    BUILTIN_RULES
        .iter()
        .map(|rule| match rule.matcher {
            Matcher::Text(pattern) => Regex::new(&format!("(?i-u:{pattern})")).ok(),
            _ => None,
        })
        .collect()
});

/// What a built-in rule found.
#[derive(Debug, Clone)]
pub struct BuiltinMatch {
    pub rule: &'static BuiltinRule,
    pub field: &'static str,
    pub matched: String,
}

/// The first built-in rule that matches `facts`.
pub fn first_match(facts: &FailureFacts<'_>) -> Option<BuiltinMatch> {
    let message = facts.message.map(|m| prefix(m, SEARCHED_MESSAGE_BYTES));
    BUILTIN_RULES
        .iter()
        .zip(COMPILED.iter())
        .find_map(|(rule, compiled)| match rule.matcher {
            Matcher::Text(_) => {
                let regex = compiled.as_ref()?;
                [
                    ("exception_type", facts.exception_type),
                    ("message", message),
                ]
                .into_iter()
                .find_map(|(field, text)| {
                    let found = regex.find(text?)?;
                    Some(BuiltinMatch {
                        rule,
                        field,
                        matched: found.as_str().to_owned(),
                    })
                })
            }
            Matcher::ErrorInTestCode => {
                let top = facts.frames.first()?;
                (!is_assertion(facts) && is_test_code(top)).then(|| BuiltinMatch {
                    rule,
                    field: "frames",
                    matched: top.clone(),
                })
            }
            Matcher::AssertionInProductCode => {
                let top = facts.frames.first()?;
                (is_assertion(facts) && is_product_code(top)).then(|| BuiltinMatch {
                    rule,
                    field: "frames",
                    matched: top.clone(),
                })
            }
        })
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An assertion did not hold: an assertion error type, or a JUnit
/// `<failure>` (which runners write for assertions) with no other type.
pub fn is_assertion(facts: &FailureFacts<'_>) -> bool {
    match facts.exception_type {
        Some(name) => {
            let simple = name.rsplit(['.', ':', '\\']).next().unwrap_or(name);
            [
                "Assert",
                "ComparisonFailure",
                "ExpectationNotMet",
                "MultipleFailures",
            ]
            .iter()
            .any(|marker| simple.contains(marker))
                || simple == "AssertionError"
        }
        None => facts.kind == FailureKind::Failure,
    }
}

/// A frame key (`module::function`, `file::function`) of test code: a test
/// class, module, file or function by the naming conventions of the
/// common runners (`CartTest`, `CartSpec`, `CartIT`, `test_cart.py`,
/// `cart_test.go`, `cart.test.ts`, `cart_spec.rb`, `tests::`, `TestCart`,
/// `test_adds`).
pub fn is_test_code(key: &str) -> bool {
    let (scope, function) = split_key(key);
    let last = scope
        .rsplit(['.', '/', ':', '\\'])
        .find(|part| !part.is_empty())
        .unwrap_or(scope);
    let file_stem = scope.rsplit(['/', '\\']).next().unwrap_or(scope);
    let class_like = ["Test", "Tests", "TestCase", "Spec", "IT", "Steps"]
        .iter()
        .any(|suffix| last.ends_with(suffix) && last.len() > suffix.len())
        || (last.starts_with("Test") && last.len() > 4);
    let file_like = file_stem.starts_with("test_")
        || [
            "_test.py",
            "_test.go",
            "_spec.rb",
            "_test.rb",
            "_tests.py",
            ".test.js",
            ".test.ts",
            ".test.jsx",
            ".test.tsx",
            ".spec.js",
            ".spec.ts",
            ".spec.jsx",
            ".spec.tsx",
            ".test.mjs",
            ".spec.mjs",
        ]
        .iter()
        .any(|suffix| file_stem.ends_with(suffix));
    let path_like = scope.split(['.', '/', ':', '\\']).any(|part| {
        matches!(
            part,
            "test" | "tests" | "__tests__" | "spec" | "testing_utils"
        )
    });
    let function_like = function.starts_with("test_")
        || (function.starts_with("Test")
            && function[4..].starts_with(|c: char| c.is_ascii_uppercase() || c == '_'));
    class_like || file_like || path_like || function_like
}

/// A frame key of the project's code that is not test code: in-app by the
/// default rules (no framework's namespace) and not [`is_test_code`].
pub fn is_product_code(key: &str) -> bool {
    let (scope, function) = split_key(key);
    let frame = Frame {
        module: scope.to_owned(),
        function: function.to_owned(),
        file: None,
    };
    !scope.is_empty() && InAppRules::default().is_in_app(&frame) && !is_test_code(key)
}

fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once(KEY_SEPARATOR).unwrap_or(("", key))
}
