//! The HTML report of a bench run: the summary as a table and plots drawn as inline SVG (so
//! the file stands alone, needs no script, and opens anywhere): latency over time, throughput
//! over time, and the latency distribution as a percentile spectrum (x: 0 %, 90 %, 99 %,
//! 99.9 %, … on a log scale of 1/(1−q), as HdrHistogram plots it).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::fanout::FanoutSummary;
use super::history::HistorySummary;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// How values map onto an axis.
#[derive(Clone, Copy)]
enum Scale {
    Linear(f64, f64),
    Log(f64, f64),
}

impl Scale {
    /// 0..1 along the axis, clamped.
    fn place(self, v: f64) -> f64 {
        let f = match self {
            Scale::Linear(lo, hi) => (v - lo) / (hi - lo),
            Scale::Log(lo, hi) => (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln()),
        };
        f.clamp(0.0, 1.0)
    }

    /// A log scale of milliseconds covering the values, in whole decades.
    fn ms_covering(values: impl Iterator<Item = f64>) -> Self {
        let (lo, hi) = values
            .filter(|v| *v > 0.0)
            .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if hi == 0.0 {
            return Scale::Log(0.1, 10.0);
        }
        let lo = 10f64.powf(lo.log10().floor()).min(0.1);
        let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
        Scale::Log(lo, hi)
    }

    fn ticks(self) -> Vec<(f64, String)> {
        match self {
            Scale::Log(lo, hi) => {
                let mut v = lo;
                let mut out = Vec::new();
                while v <= hi * 1.0001 {
                    out.push((v, trim(v)));
                    v *= 10.0;
                }
                out
            }
            Scale::Linear(lo, hi) => (0..=5)
                .map(|i| {
                    let v = lo + (hi - lo) * f64::from(i) / 5.0;
                    (v, trim(v))
                })
                .collect(),
        }
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `v`, so that five divisions of an axis fall on
/// round numbers.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let decade = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|&n| n >= v * 0.999_999)
        .unwrap_or(10.0 * decade)
}

fn trim(v: f64) -> String {
    if v >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

struct Series<'a> {
    name: &'a str,
    points: Vec<(f64, f64)>,
}

struct Chart<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x: Scale,
    x_ticks: Vec<(f64, String)>,
    y: Scale,
    series: Vec<Series<'a>>,
}

impl Chart<'_> {
    fn svg(&self) -> String {
        let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let px = |x: f64| LEFT + self.x.place(x) * w;
        let py = |y: f64| TOP + (1.0 - self.y.place(y)) * h;
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="11">
<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{}</text>
<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" fill="none" stroke="#999"/>"##,
            escape(self.title)
        );
        for (v, label) in self.y.ticks() {
            let y = py(v);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
                LEFT + w,
                LEFT - 6.0,
                y + 4.0
            );
        }
        for (v, label) in &self.x_ticks {
            let x = px(*v);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#e5e5e5"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
                TOP + h,
                TOP + h + 14.0,
                escape(label)
            );
        }
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}</text>"##,
            LEFT + w / 2.0,
            HEIGHT - 8.0,
            escape(self.x_label),
            TOP + h / 2.0,
            escape(self.y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points: Vec<String> = series
                .points
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            let _ = write!(
                s,
                r##"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"/><rect x="{}" y="{}" width="12" height="3" fill="{color}"/><text x="{}" y="{}">{}</text>"##,
                points.join(" "),
                LEFT + w + 10.0,
                TOP + 10.0 + 16.0 * i as f64,
                LEFT + w + 26.0,
                TOP + 14.0 + 16.0 * i as f64,
                escape(series.name)
            );
        }
        s.push_str("</svg>");
        s
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Percentile (0–100) → position on the spectrum axis: log10 of 1/(1−q), capped at 6 (the max).
fn nines(percentile: f64) -> f64 {
    let rest = 1.0 - percentile / 100.0;
    if rest <= 1e-6 { 6.0 } else { -rest.log10() }
}

fn spectrum_chart<'a>(title: &'a str, series: Vec<Series<'a>>) -> Chart<'a> {
    let y = Scale::ms_covering(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let series = series
        .into_iter()
        .map(|s| Series {
            name: s.name,
            points: s.points.iter().map(|(q, v)| (nines(*q), *v)).collect(),
        })
        .collect();
    let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "max"];
    Chart {
        title,
        x_label: "percentile",
        y_label: "milliseconds",
        x: Scale::Linear(0.0, 6.0),
        x_ticks: labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i as f64, (*l).to_owned()))
            .collect(),
        y,
        series,
    }
}

fn page(title: &str, summary_json: &str, charts: &[Chart]) -> String {
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:24px;max-width:800px}}pre{{background:#f5f5f5;padding:12px;overflow:auto;font-size:12px}}svg{{display:block;margin:18px 0}}</style>\
         <h1>{t}</h1>",
        t = escape(title)
    );
    for chart in charts {
        html.push_str(&chart.svg());
    }
    let _ = write!(
        html,
        "<h2>Summary</h2><pre>{}</pre></html>",
        escape(summary_json)
    );
    html
}

fn write(path: &Path, html: &str) -> anyhow::Result<()> {
    std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: report written to {}", path.display());
    Ok(())
}

/// The report of a fan-out or churn run.
pub fn write_fanout(path: &Path, s: &FanoutSummary) -> anyhow::Result<()> {
    let title = format!(
        "natter bench: {:?}, {} rooms × {} members, {} msg/s for {} s",
        s.scenario, s.rooms, s.members, s.offered_rate, s.duration_secs
    );
    let seconds = nice_ceiling(s.timeline.len().max(1) as f64);
    let time_ticks: Vec<(f64, String)> = (0..=5)
        .map(|i| {
            let t = seconds * f64::from(i) / 5.0;
            (t, format!("{t:.0}"))
        })
        .collect();
    let at = |pick: fn(&super::fanout::Second) -> f64| -> Vec<(f64, f64)> {
        s.timeline
            .iter()
            .filter(|sec| sec.delivered > 0 || sec.sent > 0)
            .map(|sec| (sec.t as f64 + 0.5, pick(sec)))
            .collect()
    };
    let latency = Chart {
        title: "send→deliver latency over time (per second)",
        x_label: "seconds since the first send",
        y_label: "milliseconds",
        x: Scale::Linear(0.0, seconds),
        x_ticks: time_ticks.clone(),
        y: Scale::ms_covering(
            s.timeline
                .iter()
                .map(|sec| sec.max_ms)
                .chain([s.deliver_ms.p50]),
        ),
        series: vec![
            Series {
                name: "p50",
                points: at(|sec| sec.p50_ms),
            },
            Series {
                name: "p99",
                points: at(|sec| sec.p99_ms),
            },
            Series {
                name: "max",
                points: at(|sec| sec.max_ms),
            },
        ],
    };
    let peak = s
        .timeline
        .iter()
        .map(|sec| sec.delivered.max(sec.sent))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let throughput = Chart {
        title: "throughput over time",
        x_label: "seconds since the first send",
        y_label: "per second",
        x: Scale::Linear(0.0, seconds),
        x_ticks: time_ticks,
        y: Scale::Linear(0.0, nice_ceiling(peak)),
        series: vec![
            Series {
                name: "deliveries",
                points: at(|sec| sec.delivered as f64),
            },
            Series {
                name: "messages sent",
                points: at(|sec| sec.sent as f64),
            },
        ],
    };
    let distribution = spectrum_chart(
        "latency distribution",
        vec![
            Series {
                name: "send→deliver",
                points: s.deliver_spectrum.clone(),
            },
            Series {
                name: "send→ack",
                points: s.ack_spectrum.clone(),
            },
        ],
    );
    let json = serde_json::to_string_pretty(s)?;
    write(
        path,
        &page(&title, &json, &[latency, throughput, distribution]),
    )
}

/// The report of a history run.
pub fn write_history(path: &Path, s: &HistorySummary) -> anyhow::Result<()> {
    let title = format!(
        "natter bench: history, a room of {} messages",
        s.messages_in_room
    );
    let chart = spectrum_chart(
        "latency distribution",
        s.spectra
            .iter()
            .filter(|(_, points)| !points.is_empty())
            .map(|(name, points)| Series {
                name,
                points: points.clone(),
            })
            .collect(),
    );
    let json = serde_json::to_string_pretty(s)?;
    write(path, &page(&title, &json, &[chart]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_place_values_and_clamp() {
        assert_eq!(Scale::Linear(0.0, 10.0).place(5.0), 0.5);
        assert_eq!(Scale::Linear(0.0, 10.0).place(20.0), 1.0);
        assert!((Scale::Log(0.1, 100.0).place(1.0) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(Scale::Log(0.1, 100.0).place(0.0), 0.0);
        let Scale::Log(lo, hi) = Scale::ms_covering([0.3, 42.0].into_iter()) else {
            panic!("a log scale")
        };
        assert_eq!((lo, hi), (0.1, 100.0));
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(9_000.0), 10_000.0);
        assert_eq!(nice_ceiling(32.0), 50.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(494_811.0), 500_000.0);
    }

    #[test]
    fn the_spectrum_axis_counts_nines() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert_eq!(nines(100.0), 6.0);
    }

    #[test]
    fn labels_are_escaped() {
        let chart = spectrum_chart(
            "<script>",
            vec![Series {
                name: "a&b",
                points: vec![(50.0, 1.0), (100.0, 3.0)],
            }],
        );
        let svg = chart.svg();
        assert!(svg.contains("&lt;script&gt;") && svg.contains("a&amp;b"));
        assert!(!svg.contains("<script>"));
    }
}
