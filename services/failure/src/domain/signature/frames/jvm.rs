//! Java, Kotlin and Scala: `at com.shop.cart.CartService.add(CartService.java:42)`.
//!
//! The module is the class, the function the method. Generated code is
//! named after what it was generated from: `lambda$add$0`, Kotlin's
//! `add$suspendImpl` and `add$default`, Scala's `$anonfun$add$1` become
//! `add`; lambda and proxy classes (`$$Lambda$123/0x…`,
//! `$$EnhancerBySpringCGLIB$$1a2b3c`, `$MockitoMock$…`) become the class
//! they stand for, and anonymous classes (`$1`) their enclosing class.

use super::{Frame, is_digits};

/// Where a generated class's name starts in a class name: what follows
/// changes from build to build or run to run.
const GENERATED_CLASS_MARKERS: [&str; 4] =
    ["$$", "$HibernateProxy$", "$MockitoMock$", "$ByteBuddy$"];

/// Generated classes numbered in the order they were made.
const NUMBERED_CLASSES: [&str; 4] = [
    "Proxy",
    "GeneratedMethodAccessor",
    "GeneratedConstructorAccessor",
    "GeneratedSerializationConstructorAccessor",
];

/// The name given to a lambda whose enclosing method the trace does not say.
const ANONYMOUS: &str = "<lambda>";

/// A frame from the qualified method `name` (before the parenthesis) and
/// the `source` inside it (`CartService.java:42`, `Native Method`).
pub(super) fn frame(name: &str, source: &str) -> Option<Frame> {
    let (class, method) = strip_loader(name).rsplit_once('.')?;
    if class.is_empty() || method.is_empty() {
        return None;
    }
    let (module, enclosing) = class_name(class);
    let function = enclosing.unwrap_or_else(|| method_name(method));
    let file = match source {
        "" | "Native Method" | "Unknown Source" | "Unknown" | "<generated>" => None,
        source => Some(source.split_once(':').map_or(source, |(file, _)| file)),
    };
    Some(Frame::new(module, function, file))
}

/// `... 12 more` (and logback's `... 12 common frames omitted`): how many
/// frames the enclosing trace shares with this one.
pub(super) fn elided(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("...")?.trim_start();
    let count = rest
        .strip_suffix("more")
        .or_else(|| rest.strip_suffix("common frames omitted"))?
        .trim();
    count.parse().ok()
}

/// Without the class loader or module in front (`app//`,
/// `java.base@17.0.2/`). A hidden class's `/0x…` follows a `$` and stays.
fn strip_loader(mut name: &str) -> &str {
    while let Some((head, tail)) = name.split_once('/') {
        if head.contains('$') {
            break;
        }
        name = tail;
    }
    name
}

/// The class a frame is reported under, and the method name an old Scala
/// closure class (`Cart$$anonfun$add$1`) carries.
fn class_name(class: &str) -> (String, Option<String>) {
    if let Some((outer, closure)) = class.split_once("$$anonfun$") {
        let (module, _) = class_name(outer);
        return (module, Some(first_name(closure)));
    }
    let end = GENERATED_CLASS_MARKERS
        .iter()
        .filter_map(|marker| class.find(marker))
        .min()
        .unwrap_or(class.len());
    let mut module = String::with_capacity(end);
    for (index, part) in class[..end].split('$').enumerate() {
        if index == 0 {
            module.push_str(without_counter(part));
        } else if !part.is_empty() && !is_digits(part) {
            module.push('$');
            module.push_str(without_counter(part));
        }
    }
    (module, None)
}

/// `jdk.proxy2.$Proxy45` and `GeneratedMethodAccessor12` without their
/// counter.
fn without_counter(part: &str) -> &str {
    let simple = part.rfind('.').map_or(0, |dot| dot + 1);
    for numbered in NUMBERED_CLASSES {
        if let Some(counter) = part[simple..].strip_prefix(numbered)
            && is_digits(counter)
        {
            return &part[..part.len() - counter.len()];
        }
    }
    part
}

fn method_name(method: &str) -> String {
    let name = method
        .strip_prefix("lambda$")
        .or_else(|| method.strip_prefix("$anonfun$"))
        .unwrap_or(method);
    first_name(name)
}

/// The first `$`-separated part that is a name rather than a counter:
/// `add$suspendImpl` -> `add`, `add$1` -> `add`, `1` -> [`ANONYMOUS`].
fn first_name(name: &str) -> String {
    name.split('$')
        .find(|part| !part.is_empty() && !is_digits(part))
        .unwrap_or(ANONYMOUS)
        .to_owned()
}
