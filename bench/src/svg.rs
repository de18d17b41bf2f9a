//! Grouped bar charts as plain SVG: a few dozen lines instead of a plotting
//! library and its font stack, and the output diffs readably in review.

use std::fmt::Write;

const PALETTE: [&str; 4] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 70.0;

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// One value per group; `None` draws no bar.
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub groups: Vec<String>,
    pub series: Vec<Series>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A round axis maximum at or above `max` (1, 2, 2.5 or 5 times a power of ten).
pub fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * power >= max {
            return step * power;
        }
    }
    10.0 * power
}

fn format_value(value: f64) -> String {
    if value == 0.0 {
        "0".to_owned()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

impl BarChart {
    pub fn render(&self) -> String {
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .copied()
            .fold(0.0, f64::max);
        let top = nice_ceiling(max * 1.05);
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let y = |value: f64| TOP + plot_h - value / top * plot_h;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        for tick in 0..=4 {
            let value = top * f64::from(tick) / 4.0;
            let ty = y(value);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                ty + 4.0,
                format_value(value)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        let groups = self.groups.len().max(1) as f64;
        let group_w = plot_w / groups;
        let bars = self.series.len().max(1) as f64;
        let bar_w = (group_w * 0.8 / bars).min(60.0);
        for (g, group) in self.groups.iter().enumerate() {
            let gx = LEFT + group_w * g as f64;
            let start = gx + (group_w - bar_w * bars) / 2.0;
            for (s, series) in self.series.iter().enumerate() {
                let Some(Some(value)) = series.values.get(g) else {
                    continue;
                };
                let x = start + bar_w * s as f64;
                let top_y = y(*value);
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x:.1}" y="{top_y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                    bar_w - 2.0,
                    (TOP + plot_h - top_y).max(0.0),
                    PALETTE[s % PALETTE.len()],
                    escape(&series.name),
                    format_value(*value),
                    x + (bar_w - 2.0) / 2.0,
                    top_y - 3.0,
                    format_value(*value)
                );
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                gx + group_w / 2.0,
                TOP + plot_h + 18.0,
                escape(group)
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
            TOP + plot_h,
            WIDTH - RIGHT,
            TOP + plot_h
        );
        if self.series.len() > 1 {
            for (s, series) in self.series.iter().enumerate() {
                let lx = LEFT + 130.0 * s as f64;
                let ly = HEIGHT - 24.0;
                let _ = writeln!(
                    svg,
                    r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
                    ly - 10.0,
                    PALETTE[s % PALETTE.len()],
                    lx + 16.0,
                    escape(&series.name)
                );
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maximum_is_round_and_not_below_the_data() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(1.9), 2.0);
        assert_eq!(nice_ceiling(2.1), 2.5);
        assert_eq!(nice_ceiling(4200.0), 5000.0);
        assert_eq!(nice_ceiling(100.0), 100.0);
    }

    #[test]
    fn draws_one_bar_per_present_value_with_a_legend() {
        let chart = BarChart {
            title: "t <x>".to_owned(),
            y_label: "ms".to_owned(),
            groups: vec!["a".to_owned(), "b".to_owned()],
            series: vec![
                Series {
                    name: "one".to_owned(),
                    values: vec![Some(1.0), None],
                },
                Series {
                    name: "two".to_owned(),
                    values: vec![Some(2.0), Some(3.0)],
                },
            ],
        };
        let svg = chart.render();
        assert_eq!(svg.matches("<title>").count(), 3);
        assert!(svg.contains("t &lt;x&gt;"));
        assert!(svg.contains(">one</text>") && svg.contains(">two</text>"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
