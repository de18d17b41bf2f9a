//! Token similarity of normalised messages, for failures without a stack
//! trace: two such messages that differ by a word or two (a variable name
//! in the text, a reworded tail) are still one problem, which an exact
//! comparison of normalised text would split.
//!
//! A message is a bag of tokens (words and placeholders, see [`tokens`]),
//! compared by the cosine of the token counts, so word order does not
//! matter and a repeated word counts more. The threshold follows
//! ReportPortal's auto-analysis: 0.95, relaxed for short texts so that one
//! differing token is allowed, but never below 0.8 (see [`threshold`]).

/// The similarity two messages need when nothing is relaxed.
pub const DEFAULT_THRESHOLD: f64 = 0.95;

/// The lowest threshold a short text may relax to.
pub const MIN_THRESHOLD: f64 = 0.8;

/// Room for rounding: one changed token in `n` gives a cosine of exactly
/// `(n - 1) / n`, which the square roots may compute a hair lower.
const EPSILON: f64 = 1e-9;

/// The tokens of a normalised message: placeholders (`<num>`, `<host>`:
/// `<` lowercase letters `>`) whole, and runs of letters, digits and `_`.
/// Punctuation separates tokens and is dropped, so `Cart.java:42` is
/// `Cart`, `java`, `42` and `expected: <5>` is `expected`, `5`.
pub fn tokens(normalized: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = normalized;
    while let Some(c) = rest.chars().next() {
        let len = if c == '<' {
            placeholder_len(rest)
        } else if is_word_char(c) {
            rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len())
        } else {
            0
        };
        if len > 0 {
            found.push(&rest[..len]);
            rest = &rest[len..];
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    found
}

/// The cosine of the two messages' token counts, from 0 (no token shared)
/// to 1 (the same tokens as often, in any order). Two texts without tokens
/// are alike (1); one without tokens is like nothing else (0).
pub fn cosine(a: &str, b: &str) -> f64 {
    cosine_of(tokens(a), tokens(b))
}

/// The similarity `a` and `b` need to count as one problem, from the token
/// count `n` of the longer one: `(n - 1) / n` (one token may differ) when
/// that is between [`MIN_THRESHOLD`] and [`DEFAULT_THRESHOLD`], else
/// [`DEFAULT_THRESHOLD`]. So 5 to 19 tokens relax to 0.8 to 0.947 and 20 or
/// more keep 0.95, as ReportPortal does. Under 5 tokens one changed token
/// is already a fifth of the text or more, a different message rather than
/// a variant, so nothing is relaxed: a 3-token message with one word
/// changed (cosine 2/3) is not similar.
pub fn threshold(a: &str, b: &str) -> f64 {
    threshold_for(tokens(a).len().max(tokens(b).len()))
}

/// Whether `a` and `b` are one problem: their [`cosine`] reaches their
/// [`threshold`].
pub fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (tokens(a), tokens(b));
    let needed = threshold_for(a.len().max(b.len()));
    cosine_of(a, b) + EPSILON >= needed
}

/// A message's tokens counted once, to compare it with many messages
/// without tokenising it again: [`TokenBag::similar`] answers what
/// [`similar`] answers for the two texts.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBag {
    /// Each distinct token with its count, sorted by token.
    counts: Vec<(String, f64)>,
    norm: f64,
    tokens: usize,
}

impl TokenBag {
    pub fn new(normalized: &str) -> Self {
        let mut found = tokens(normalized);
        found.sort_unstable();
        let counts: Vec<(String, f64)> = run_lengths(&found)
            .into_iter()
            .map(|(token, count)| (token.to_owned(), count))
            .collect();
        let norm = counts.iter().map(|(_, n)| n * n).sum::<f64>().sqrt();
        Self {
            counts,
            norm,
            tokens: found.len(),
        }
    }

    /// Whether the two messages are one problem, as [`similar`] decides.
    pub fn similar(&self, other: &Self) -> bool {
        let needed = threshold_for(self.tokens.max(other.tokens));
        let cosine = match (self.tokens == 0, other.tokens == 0) {
            (true, true) => 1.0,
            (true, false) | (false, true) => 0.0,
            (false, false) => {
                let mut dot = 0.0;
                let (mut i, mut j) = (0, 0);
                while let (Some((a, count_a)), Some((b, count_b))) =
                    (self.counts.get(i), other.counts.get(j))
                {
                    match a.cmp(b) {
                        std::cmp::Ordering::Less => i += 1,
                        std::cmp::Ordering::Greater => j += 1,
                        std::cmp::Ordering::Equal => {
                            dot += count_a * count_b;
                            i += 1;
                            j += 1;
                        }
                    }
                }
                dot / (self.norm * other.norm)
            }
        };
        cosine + EPSILON >= needed
    }
}

fn threshold_for(token_count: usize) -> f64 {
    if token_count == 0 {
        return DEFAULT_THRESHOLD;
    }
    let count = token_count as f64;
    let one_token_off = (count - 1.0) / count;
    if one_token_off >= MIN_THRESHOLD {
        one_token_off.min(DEFAULT_THRESHOLD)
    } else {
        DEFAULT_THRESHOLD
    }
}

/// Counts each token by sorting both lists and walking them together; the
/// lists are short, and sorting avoids hashing every token.
fn cosine_of(mut a: Vec<&str>, mut b: Vec<&str>) -> f64 {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return 1.0,
        (true, false) | (false, true) => return 0.0,
        (false, false) => {}
    }
    a.sort_unstable();
    b.sort_unstable();
    let (counts_a, counts_b) = (run_lengths(&a), run_lengths(&b));
    let norm = |counts: &[(&str, f64)]| counts.iter().map(|(_, n)| n * n).sum::<f64>().sqrt();
    let mut dot = 0.0;
    let (mut i, mut j) = (0, 0);
    while let (Some((token_a, count_a)), Some((token_b, count_b))) =
        (counts_a.get(i), counts_b.get(j))
    {
        match token_a.cmp(token_b) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += count_a * count_b;
                i += 1;
                j += 1;
            }
        }
    }
    dot / (norm(&counts_a) * norm(&counts_b))
}

/// Each distinct token of a sorted list with how often it occurs.
fn run_lengths<'a>(sorted: &[&'a str]) -> Vec<(&'a str, f64)> {
    let mut counts: Vec<(&str, f64)> = Vec::new();
    for token in sorted {
        match counts.last_mut() {
            Some((last, count)) if last == token => *count += 1.0,
            _ => counts.push((token, 1.0)),
        }
    }
    counts
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The length of a placeholder at the start of `text`, or 0.
fn placeholder_len(text: &str) -> usize {
    let letters = text[1..].bytes().take_while(u8::is_ascii_lowercase).count();
    if letters > 0 && text[1 + letters..].starts_with('>') {
        letters + 2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::{cosine, similar, threshold, tokens};

    #[test]
    fn tokens_are_words_and_placeholders_without_punctuation() {
        let cases: &[(&str, &[&str])] = &[
            (
                "expected: <5> but was: <num>",
                &["expected", "5", "but", "was", "<num>"],
            ),
            (
                "at Cart.checkout(Cart.java:42)",
                &["at", "Cart", "checkout", "Cart", "java", "42"],
            ),
            ("<<num>>", &["<num>"]),
            (
                "connect to <ip>:<port>",
                &["connect", "to", "<ip>", "<port>"],
            ),
            ("grün — test_x0", &["grün", "test_x0"]),
            ("a < b > c <>", &["a", "b", "c"]),
            ("", &[]),
            (" ... ", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(tokens(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn cosine_compares_token_counts() {
        let cases: &[(&str, &str, f64)] = &[
            ("a b c", "a b c", 1.0),
            ("a b c", "c b a", 1.0),
            ("a b c", "x y z", 0.0),
            ("a b c", "a b d", 2.0 / 3.0),
            ("a a b", "a b", 3.0 / (5.0_f64.sqrt() * 2.0_f64.sqrt())),
            ("", "", 1.0),
            ("", "a", 0.0),
            ("a", "", 0.0),
        ];
        for (a, b, expected) in cases {
            let actual = cosine(a, b);
            assert!((actual - expected).abs() < 1e-12, "{a:?} {b:?}: {actual}");
        }
    }

    #[test]
    fn threshold_relaxes_for_short_texts_only_down_to_one_changed_token() {
        let text = |n: usize| vec!["w"; n].join(" ");
        let cases: &[(usize, f64)] = &[
            (0, 0.95),
            (1, 0.95),
            (3, 0.95),
            (4, 0.95),
            (5, 0.8),
            (10, 0.9),
            (19, 18.0 / 19.0),
            (20, 0.95),
            (100, 0.95),
        ];
        for (n, expected) in cases {
            let actual = threshold(&text(*n), "w");
            assert!((actual - expected).abs() < 1e-12, "{n} tokens: {actual}");
        }
        assert_eq!(threshold("w", &text(10)), threshold(&text(10), "w"));
    }

    #[test]
    fn token_bags_decide_as_similar_does() {
        let texts = [
            "",
            "boom",
            "a a b",
            "a b",
            "the cart checkout timed out",
            "the cart payment timed out",
            "the order payment timed out",
            "disk is full",
            "disk is empty",
            "payment failed for order <num>",
            "for order <num> payment failed",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(
                    super::TokenBag::new(a).similar(&super::TokenBag::new(b)),
                    similar(a, b),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn similar_follows_the_threshold() {
        let long = "Connection to <host>:<port> was closed by the peer while the \
                    client was waiting for the response to the request";
        let long_changed = long.replace("peer", "server");
        let cases: &[(&str, &str, bool, &str)] = &[
            (long, long, true, "identical"),
            ("", "", true, "both empty"),
            ("", "boom", false, "one empty"),
            (
                "payment failed for order <num>",
                "for order <num> payment failed",
                true,
                "reordered",
            ),
            (long, &long_changed, true, "one changed word in 20 tokens"),
            (
                "timeout while reading response",
                "timeout while writing response",
                false,
                "4 tokens: nothing relaxed, 0.75 < 0.95",
            ),
            (
                "the cart checkout timed out",
                "the cart payment timed out",
                true,
                "5 tokens: 0.8 reaches the relaxed 0.8",
            ),
            (
                "disk is full",
                "disk is empty",
                false,
                "3 tokens: 2/3 < 0.95",
            ),
            (
                "the cart checkout timed out",
                "the order payment timed out",
                false,
                "5 tokens, two changed: 0.6 < 0.8",
            ),
        ];
        for (a, b, expected, why) in cases {
            assert_eq!(similar(a, b), *expected, "{why}: {a:?} vs {b:?}");
            assert_eq!(similar(b, a), *expected, "{why} (swapped)");
        }
    }
}
