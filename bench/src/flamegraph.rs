//! CPU profiles of a running service: `perf record` with DWARF call graphs,
//! `perf script` folded into stacks, a top-self table and a flamegraph SVG
//! drawn here (no flamegraph.pl, no JavaScript, no new dependencies).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Sampling frequency: an odd rate so samples do not beat with 100 Hz timers.
pub const FREQUENCY: u32 = 499;
/// Bytes of stack copied per sample for DWARF unwinding.
const STACK_BYTES: u32 = 8192;

const WIDTH: f64 = 1200.0;
const XPAD: f64 = 10.0;
const FRAME_HEIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 10.0;
/// Frames with a smaller share of all samples are not drawn.
const MIN_SHARE: f64 = 0.001;
const CHAR_WIDTH: f64 = 7.0;
const MIN_LABEL_WIDTH: f64 = 30.0;

/// Debian's `perf` (package `linux-perf`).
const PERF: &str = "perf";

/// Whether `perf --version` runs and succeeds.
pub fn perf_available() -> bool {
    std::process::Command::new(PERF)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Samples process `pid` (all its threads) for `seconds` at [`FREQUENCY`]
/// with DWARF call graphs into `out_dir/perf.data` and returns that path.
pub async fn record(pid: u32, seconds: u64, out_dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let data = out_dir.join("perf.data");
    let output = tokio::process::Command::new(PERF)
        .arg("record")
        .args(["-F", &FREQUENCY.to_string()])
        .args(["--call-graph", &format!("dwarf,{STACK_BYTES}")])
        .args(["-p", &pid.to_string()])
        .arg("-o")
        .arg(&data)
        .args(["--", "sleep", &seconds.to_string()])
        .kill_on_drop(true)
        .output()
        .await
        .context("running perf record")?;
    if !output.status.success() {
        bail!(
            "perf record -p {pid} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(data)
}

/// The samples of `perf_data` as text: a `comm tid` header per sample,
/// then one `address symbol (dso)` line per frame, innermost first.
pub async fn script(perf_data: &Path) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(PERF)
        .arg("script")
        .arg("-i")
        .arg(perf_data)
        .args(["--no-inline", "-F", "comm,tid,ip,sym,dso"])
        .kill_on_drop(true)
        .output()
        .await
        .context("running perf script")?;
    if !output.status.success() {
        bail!(
            "perf script -i {} failed ({}): {}",
            perf_data.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Samples folded by identical stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    /// `comm;outermost;...;innermost` to the number of samples with that stack.
    pub stacks: BTreeMap<String, u64>,
    /// All samples, the sum of `stacks`.
    pub samples: u64,
}

impl From<BTreeMap<String, u64>> for Folded {
    fn from(stacks: BTreeMap<String, u64>) -> Self {
        let samples = stacks.values().sum();
        Self { stacks, samples }
    }
}

/// Folds `perf script -F comm,tid,ip,sym,dso` output: one stack per sample,
/// rooted at the thread's name, with offsets and Rust hashes removed so
/// samples in the same functions share a key.
pub fn fold(script: &str) -> Folded {
    let mut folded = Folded::default();
    let mut sample: Option<(String, Vec<String>)> = None;
    for line in script.lines() {
        if line.trim().is_empty() {
            if let Some((comm, frames)) = sample.take() {
                add_sample(&mut folded, &comm, &frames);
            }
            continue;
        }
        match &mut sample {
            Some((_, frames)) => frames.push(frame_name(line)),
            None if line.starts_with('#') => {}
            None => sample = Some((thread_name(line), Vec::new())),
        }
    }
    if let Some((comm, frames)) = sample {
        add_sample(&mut folded, &comm, &frames);
    }
    folded
}

fn add_sample(folded: &mut Folded, comm: &str, innermost_first: &[String]) {
    let mut key = comm.to_owned();
    for frame in innermost_first.iter().rev() {
        key.push(';');
        key.push_str(frame);
    }
    *folded.stacks.entry(key).or_insert(0) += 1;
    folded.samples += 1;
}

/// The comm of a `comm tid` header; comms may contain spaces.
fn thread_name(header: &str) -> String {
    let header = header.trim();
    let comm = match header.rsplit_once(char::is_whitespace) {
        Some((comm, tid)) if tid.bytes().all(|b| b.is_ascii_digit() || b == b'/') => {
            comm.trim_end()
        }
        _ => header,
    };
    comm.replace(';', ":")
}

/// The cleaned symbol of an `address symbol[+0xoff] (dso)` frame line.
fn frame_name(line: &str) -> String {
    let text = line.trim();
    let rest = text.split_once(' ').map_or("", |(_address, rest)| rest);
    let (symbol, dso) = match rest.rfind(" (") {
        Some(at) if rest.ends_with(')') => (&rest[..at], &rest[at + 2..rest.len() - 1]),
        _ => (rest, ""),
    };
    clean_symbol(symbol.trim(), dso)
}

fn clean_symbol(symbol: &str, dso: &str) -> String {
    let symbol = strip_suffix_hex(symbol, "+0x", None);
    if symbol.is_empty() || symbol == "[unknown]" {
        let base = dso.rsplit('/').next().unwrap_or_default();
        return if base.is_empty() || base == "[unknown]" {
            "[unknown]".to_owned()
        } else {
            format!("[unknown] ({})", base.replace(';', ":"))
        };
    }
    strip_suffix_hex(symbol, "::h", Some(16)).replace(';', ":")
}

/// `text` without a trailing `marker` and hex digits (exactly `digits` if given).
fn strip_suffix_hex<'a>(text: &'a str, marker: &str, digits: Option<usize>) -> &'a str {
    let Some(at) = text.rfind(marker) else {
        return text;
    };
    let hex = &text[at + marker.len()..];
    let length_ok = digits.map_or(!hex.is_empty(), |n| hex.len() == n);
    if length_ok && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        &text[..at]
    } else {
        text
    }
}

/// The `n` functions most often on top of the stack (self time), as shares
/// of all samples, largest first (ties by name).
pub fn top_self(folded: &Folded, n: usize) -> Vec<(String, f64)> {
    if folded.samples == 0 {
        return Vec::new();
    }
    let mut by_leaf: BTreeMap<&str, u64> = BTreeMap::new();
    for (stack, count) in &folded.stacks {
        let leaf = stack.rsplit(';').next().unwrap_or_default();
        *by_leaf.entry(leaf).or_insert(0) += count;
    }
    let mut ranked: Vec<(&str, u64)> = by_leaf.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let total = folded.samples as f64;
    ranked
        .into_iter()
        .take(n)
        .map(|(name, count)| (name.to_owned(), count as f64 / total))
        .collect()
}

/// Share of samples with a frame containing `needle` anywhere in the stack
/// (inclusive time).
pub fn share_under(folded: &Folded, needle: &str) -> f64 {
    if folded.samples == 0 {
        return 0.0;
    }
    let hits: u64 = folded
        .stacks
        .iter()
        .filter(|(stack, _)| stack.split(';').any(|frame| frame.contains(needle)))
        .map(|(_, count)| count)
        .sum();
    hits as f64 / folded.samples as f64
}

#[derive(Debug, Default)]
struct Node<'a> {
    samples: u64,
    children: BTreeMap<&'a str, Node<'a>>,
}

impl Node<'_> {
    /// Rows needed to draw this node and its visible descendants.
    fn depth(&self, min_samples: f64) -> usize {
        1 + self
            .children
            .values()
            .filter(|child| child.samples as f64 >= min_samples)
            .map(|child| child.depth(min_samples))
            .max()
            .unwrap_or(0)
    }
}

struct Canvas {
    out: String,
    total: u64,
    min_samples: f64,
    scale: f64,
    height: f64,
}

impl Canvas {
    fn draw(&mut self, name: &str, node: &Node<'_>, offset: u64, row: usize) {
        let x = XPAD + offset as f64 * self.scale;
        let width = node.samples as f64 * self.scale;
        let y = self.height - BOTTOM - (row + 1) as f64 * FRAME_HEIGHT;
        let percent = 100.0 * node.samples as f64 / self.total as f64;
        let escaped = escape(name);
        let _ = write!(
            self.out,
            "<g><title>{escaped} ({} samples, {percent:.2}%)</title>\
             <rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{width:.2}\" height=\"{:.2}\" fill=\"{}\" rx=\"2\"/>",
            node.samples,
            FRAME_HEIGHT - 1.0,
            colour(name),
        );
        if let Some(label) = label(name, width) {
            let _ = write!(
                self.out,
                "<text x=\"{:.2}\" y=\"{:.2}\">{}</text>",
                x + 3.0,
                y + 11.5,
                escape(&label)
            );
        }
        self.out.push_str("</g>\n");
        let mut child_offset = offset;
        for (child_name, child) in &node.children {
            if child.samples as f64 >= self.min_samples {
                self.draw(child_name, child, child_offset, row + 1);
            }
            child_offset += child.samples;
        }
    }
}

/// A flamegraph of `folded` as a standalone SVG: root (`all`) at the bottom,
/// callees above callers, siblings in alphabetical order, widths proportional
/// to samples; hover a frame for its sample count and share.
pub fn svg(folded: &Folded, title: &str) -> String {
    let mut root = Node::default();
    for (stack, &count) in &folded.stacks {
        root.samples += count;
        let mut node = &mut root;
        for frame in stack.split(';') {
            node = node.children.entry(frame).or_default();
            node.samples += count;
        }
    }
    let min_samples = root.samples as f64 * MIN_SHARE;
    let rows = if root.samples == 0 {
        0
    } else {
        root.depth(min_samples)
    };
    let height = TOP + rows as f64 * FRAME_HEIGHT + BOTTOM;
    let mut canvas = Canvas {
        out: String::new(),
        total: root.samples,
        min_samples,
        scale: (WIDTH - 2.0 * XPAD) / root.samples.max(1) as f64,
        height,
    };
    let _ = writeln!(
        canvas.out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"monospace\" font-size=\"11\">\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
        WIDTH / 2.0,
        escape(title)
    );
    if root.samples > 0 {
        canvas.draw("all", &root, 0, 0);
    }
    canvas.out.push_str("</svg>\n");
    canvas.out
}

/// `name`, shortened with `..` to fit `width` pixels, or none if too narrow.
fn label(name: &str, width: f64) -> Option<String> {
    if width <= MIN_LABEL_WIDTH {
        return None;
    }
    let fits = ((width - 6.0) / CHAR_WIDTH).floor() as usize;
    if name.chars().count() <= fits {
        Some(name.to_owned())
    } else if fits >= 3 {
        Some(name.chars().take(fits - 2).chain("..".chars()).collect())
    } else {
        None
    }
}

/// A warm colour (flamegraph.pl's "hot" palette) fixed by the name's hash.
fn colour(name: &str) -> String {
    // FNV-1a: stable across runs and Rust versions, unlike `DefaultHasher`.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let part = |shift: u32| ((hash >> shift) & 0xff) as f64 / 255.0;
    format!(
        "rgb({},{},{})",
        205 + (50.0 * part(0)) as u8,
        (230.0 * part(8)) as u8,
        (55.0 * part(16)) as u8
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As perf 6.1's `script --no-inline -F comm,tid,ip,sym,dso` prints it.
    const SCRIPT: &str = concat!(
        "tokio-runtime-w 4242 \n",
        "\t    55d0c3a1f00f failure_service::ingest::parse_junit::h0123456789abcdef+0x1f (/usr/local/bin/failure-service)\n",
        "\t    55d0c3a1e000 tokio::runtime::task::harness::poll (/usr/local/bin/failure-service)\n",
        "\t    7f3a9c0b2000 start_thread (/usr/lib/x86_64-linux-gnu/libc.so.6)\n",
        "\n",
        "tokio-runtime-w 4243 \n",
        "\t    7f3a9c1d2e3f [unknown] (/usr/lib/x86_64-linux-gnu/libz.so.1)\n",
        "\t    55d0c3a1d000 <serde_json::de::Deserializer<R> as serde::de::Deserializer>::deserialize_map (/usr/local/bin/failure-service)\n",
        "\t    ffffffffffffffff [unknown] ([unknown])\n",
        "\n",
        "tokio-runtime-w 4242 \n",
        "\t    55d0c3a1f02a failure_service::ingest::parse_junit::h0123456789abcdef+0x2a (/usr/local/bin/failure-service)\n",
        "\t    55d0c3a1e000 tokio::runtime::task::harness::poll (/usr/local/bin/failure-service)\n",
        "\t    7f3a9c0b2000 start_thread (/usr/lib/x86_64-linux-gnu/libc.so.6)\n",
        "\n",
    );

    const PARSE: &str = "tokio-runtime-w;start_thread;tokio::runtime::task::harness::poll;failure_service::ingest::parse_junit";
    const DESERIALIZE: &str = "tokio-runtime-w;[unknown];<serde_json::de::Deserializer<R> as serde::de::Deserializer>::deserialize_map;[unknown] (libz.so.1)";

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_sample_s_frames_are_folded_outermost_first() {
        let folded = fold(SCRIPT);
        let expected: BTreeMap<String, u64> =
            [(PARSE.to_owned(), 2), (DESERIALIZE.to_owned(), 1)].into();
        assert_eq!(folded.stacks, expected);
        assert_eq!(folded.samples, 3);
    }

    #[test]
    fn symbols_lose_offsets_hashes_and_semicolons_but_keep_the_rest() {
        assert_eq!(clean_symbol("a::b::h0123456789abcdef+0x1f", "/x"), "a::b");
        assert_eq!(clean_symbol("a::hash::h12", ""), "a::hash::h12");
        assert_eq!(clean_symbol("Vec<T>::push;x", ""), "Vec<T>::push:x");
        assert_eq!(
            clean_symbol("[unknown]", "/usr/bin/dash"),
            "[unknown] (dash)"
        );
        assert_eq!(clean_symbol("[unknown]", ""), "[unknown]");
        assert_eq!(thread_name("tokio worker 17 "), "tokio worker");
    }

    #[test]
    fn top_self_ranks_innermost_frames_by_share_of_all_samples() {
        let top = top_self(&fold(SCRIPT), 5);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].0, "failure_service::ingest::parse_junit");
        assert!(close(top[0].1, 2.0 / 3.0));
        assert_eq!(top[1].0, "[unknown] (libz.so.1)");
        assert!(close(top[1].1, 1.0 / 3.0));
        assert_eq!(top_self(&fold(SCRIPT), 1).len(), 1);
    }

    #[test]
    fn share_under_counts_every_sample_whose_stack_has_a_matching_frame() {
        let folded = fold(SCRIPT);
        assert!(close(share_under(&folded, "harness::poll"), 2.0 / 3.0));
        assert!(close(share_under(&folded, "serde_json"), 1.0 / 3.0));
        assert!(close(share_under(&folded, "tokio-runtime-w"), 1.0));
        assert!(close(share_under(&folded, "absent"), 0.0));
    }

    #[test]
    fn the_svg_draws_one_rect_per_visible_frame_and_escapes_names() {
        let folded = fold(SCRIPT);
        let svg = svg(&folded, "failure-service <ingest>");
        // all, the comm, three frames of PARSE, three of DESERIALIZE.
        assert_eq!(svg.matches("<rect").count(), 8);
        assert!(svg.contains("&lt;serde_json::de::Deserializer&lt;R&gt; as"));
        assert!(!svg.contains("<serde_json"));
        assert!(svg.contains("failure-service &lt;ingest&gt;"));
        assert!(svg.contains("<title>all (3 samples, 100.00%)</title>"));
        assert!(svg.contains("parse_junit (2 samples, 66.67%)"));
        assert_eq!(svg, super::svg(&folded, "failure-service <ingest>"));
    }

    #[test]
    fn the_svg_skips_frames_under_a_thousandth_of_the_samples() {
        let folded = Folded {
            stacks: [("main;busy".to_owned(), 2000), ("main;rare".to_owned(), 1)].into(),
            samples: 2001,
        };
        let svg = svg(&folded, "skip");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("busy (2000 samples"));
        assert!(!svg.contains("rare"));
    }

    #[test]
    fn labels_are_cut_with_dots_to_fit_or_left_out() {
        assert_eq!(label("abcdef", 30.0), None);
        assert_eq!(label("abcdef", 60.0).as_deref(), Some("abcdef"));
        assert_eq!(label("abcdefghijkl", 40.0).as_deref(), Some("ab.."));
    }
}
