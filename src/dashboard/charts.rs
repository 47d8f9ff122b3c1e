//! The dashboard's charts: one series (or stacked series) per local day, drawn by plotters'
//! SVG backend into a string that is inlined in the page (no font, no request). Each chart
//! comes with a table of the same numbers (for screen readers and text browsers).

use chrono::NaiveDate;
use plotters::prelude::*;

/// One named series, a value per day.
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
    pub color: RGBColor,
}

pub const BLUE: RGBColor = RGBColor(0x25, 0x63, 0xeb);
pub const GREEN: RGBColor = RGBColor(0x16, 0xa3, 0x4a);
pub const ORANGE: RGBColor = RGBColor(0xea, 0x58, 0x0c);
pub const RED: RGBColor = RGBColor(0xdc, 0x26, 0x26);
pub const GREY: RGBColor = RGBColor(0x6b, 0x72, 0x80);
pub const PURPLE: RGBColor = RGBColor(0x7c, 0x3a, 0xed);

const WIDTH: u32 = 640;
const HEIGHT: u32 = 220;

/// How the series are drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lines,
    /// Stacked bars; negative values (contraction, churn) stack below zero.
    Bars,
}

/// An SVG chart of `series` over `days`, its y axis labelled with `unit`.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "day indices: small and not negative"
)]
pub fn chart(days: &[NaiveDate], series: &[Series], kind: Kind, unit: &str) -> String {
    let mut svg = String::new();
    if days.is_empty() {
        return svg;
    }
    let (low, high) = range(series, kind);
    let n = days.len();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let built = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, low..high);
        let Ok(mut c) = built else {
            return String::new();
        };
        let label = |i: &f64| {
            days.get(i.max(0.0).round() as usize)
                .map(|d| d.format("%b %d").to_string())
                .unwrap_or_default()
        };
        let _ = c
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&label)
            .y_label_formatter(&|v| short(*v))
            .y_desc(unit)
            .label_style(("sans-serif", 11))
            .draw();
        match kind {
            Kind::Lines => {
                for s in series {
                    let points = s
                        .values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (i as f64 + 0.5, *v));
                    let _ = c.draw_series(LineSeries::new(points, s.color.stroke_width(2)));
                }
            }
            Kind::Bars => {
                for day in 0..n {
                    let (mut up, mut down) = (0.0, 0.0);
                    for s in series {
                        let v = s.values.get(day).copied().unwrap_or(0.0);
                        let (from, to) = if v >= 0.0 {
                            up += v;
                            (up - v, up)
                        } else {
                            down += v;
                            (down - v, down)
                        };
                        let x = day as f64;
                        let _ = c.draw_series(std::iter::once(Rectangle::new(
                            [(x + 0.1, from), (x + 0.9, to)],
                            s.color.filled(),
                        )));
                    }
                }
            }
        }
        let _ = root.present();
    }
    // Inline in HTML the namespace is implied: the page then names no URL at all.
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

fn range(series: &[Series], kind: Kind) -> (f64, f64) {
    let (mut low, mut high) = (0.0f64, 0.0f64);
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    match kind {
        Kind::Lines => {
            for v in series.iter().flat_map(|s| s.values.iter()) {
                low = low.min(*v);
                high = high.max(*v);
            }
        }
        Kind::Bars => {
            for day in 0..n {
                let vals = series.iter().filter_map(|s| s.values.get(day));
                let up: f64 = vals.clone().filter(|v| **v > 0.0).sum();
                let down: f64 = vals.filter(|v| **v < 0.0).sum();
                high = high.max(up);
                low = low.min(down);
            }
        }
    }
    if high <= low {
        high = low + 1.0;
    }
    (low, high + (high - low) * 0.05)
}

/// 1234 -> 1.2k, 0.25 -> 0.25.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
