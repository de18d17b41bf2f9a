//! Charts drawn on the server as SVG, readable without JavaScript: each
//! point is also a `<title>` a screen reader and a hover can read.

use maud::{Markup, html};

/// One bar or point of a chart.
#[derive(Debug, Clone)]
pub struct Point {
    pub label: String,
    /// 0 to 1 for rates; any non-negative number for counts.
    pub value: f64,
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const PAD: f64 = 24.0;

/// A line chart of `points` (oldest first) scaled to `max` (at least the
/// largest value), with `caption` for its accessible name.
pub fn line_chart(caption: &str, points: &[Point], max: f64, as_percent: bool) -> Markup {
    let top = points
        .iter()
        .map(|p| p.value)
        .fold(max, f64::max)
        .max(f64::EPSILON);
    let step = if points.len() > 1 {
        (WIDTH - 2.0 * PAD) / (points.len() - 1) as f64
    } else {
        0.0
    };
    let coords: Vec<(f64, f64, &Point)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = PAD + step * i as f64;
            let y = HEIGHT - PAD - (p.value / top) * (HEIGHT - 2.0 * PAD);
            (x, y, p)
        })
        .collect();
    let path = coords
        .iter()
        .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let shown = |v: f64| {
        if as_percent {
            format!("{:.1}%", v * 100.0)
        } else {
            format!("{v:.0}")
        }
    };
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(caption) preserveAspectRatio="none" {
                line.axis x1=(PAD) y1=(HEIGHT - PAD) x2=(WIDTH - PAD) y2=(HEIGHT - PAD) {}
                @if points.is_empty() {
                    text x=(PAD) y=(HEIGHT / 2.0) { "No data in this period" }
                } @else {
                    polyline.series points=(path) {}
                    @for (x, y, p) in &coords {
                        circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3" {
                            title { (p.label) ": " (shown(p.value)) }
                        }
                    }
                }
            }
            figcaption { (caption) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_is_drawn_with_its_value_in_words() {
        let points = vec![
            Point {
                label: "b1".into(),
                value: 0.5,
            },
            Point {
                label: "b2".into(),
                value: 1.0,
            },
        ];
        let svg = line_chart("Pass rate", &points, 1.0, true).into_string();
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("b1: 50.0%"), "{svg}");
        assert!(svg.contains("aria-label=\"Pass rate\""), "{svg}");
    }

    #[test]
    fn an_empty_series_says_so() {
        let svg = line_chart("Failures", &[], 1.0, false).into_string();
        assert!(svg.contains("No data"), "{svg}");
    }
}
