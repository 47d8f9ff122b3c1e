//! The report as HTML: pulldown-cmark's rendering of the same Markdown (no raw HTML let
//! through), with an inline SVG line chart (one point per day) in place of the sparklines.

use std::fmt::Write as _;

use super::Report;

impl Report {
    /// A standalone HTML page (also the HTML part of the email): the Markdown rendered by
    /// pulldown-cmark, with an SVG chart (one point per day) for the sparklines.
    pub fn html(&self) -> String {
        let (head, _, rest) = self.markdown_parts();
        let mut out = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>");
        out.push_str(&crate::escape::html(&format!(
            "{}: {}",
            self.site_name, self.title
        )));
        out.push_str(
            "</title><style>body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;\
             padding:0 1em;color:#222}table{border-collapse:collapse}td,th{padding:.2em .7em;\
             border-bottom:1px solid #ddd}td:not(:first-child){text-align:right}code{background:\
             #f4f4f4;padding:0 .2em}</style></head><body>\n",
        );
        out.push_str(&cmark(&head));
        out.push_str("<h2>Per day</h2>\n");
        out.push_str(&self.svg());
        out.push_str(&cmark(&rest));
        out.push_str("</body></html>\n");
        out
    }

    /// A line chart of pageviews, visitors and active users: one point per day.
    pub fn svg(&self) -> String {
        let (w, h, pad) = (640.0_f64, 200.0_f64, 30.0_f64);
        let n = self.per_day.len().max(1);
        let series = self.series();
        let max = series
            .iter()
            .take(3)
            .flat_map(|(_, v)| v.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let x = |i: usize| {
            if n == 1 {
                w / 2.0
            } else {
                pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64
            }
        };
        let y = |v: u64| h - pad - (h - 2.0 * pad) * v as f64 / max;
        let colours = ["#1f77b4", "#2ca02c", "#d62728"];
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\" role=\"img\">",
            h + 20.0,
            h + 20.0
        );
        let _ = write!(
            out,
            "<line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#999\"/>",
            h - pad,
            w - pad
        );
        let _ = write!(
            out,
            "<text x=\"2\" y=\"{}\" font-size=\"10\">{max:.0}</text>",
            pad - 4.0,
        );
        for (k, (name, values)) in series.iter().take(3).enumerate() {
            let points: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
                .collect();
            let _ = write!(
                out,
                "<polyline class=\"series\" data-name=\"{name}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                colours[k],
                points.join(" ")
            );
            for (i, v) in values.iter().enumerate() {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"><title>{} {name}: {v}</title></circle>",
                    x(i),
                    y(*v),
                    colours[k],
                    self.per_day[i].day
                );
            }
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{}\">{name}</text>",
                pad + 150.0 * k as f64,
                h + 14.0,
                colours[k]
            );
        }
        let _ = write!(
            out,
            "<text x=\"{pad}\" y=\"{0}\" font-size=\"10\">{1}</text><text x=\"{2}\" y=\"{0}\" font-size=\"10\" text-anchor=\"end\">{3}</text>",
            h - pad + 12.0,
            self.period.since,
            w - pad,
            self.period.until
        );
        out.push_str("</svg>\n");
        out
    }
}

fn cmark(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, html};
    // Raw HTML in the Markdown is shown as text, never passed through: the Markdown is
    // arkwatch's, but a defused visitor string must not become markup even by mistake.
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        e => e,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escape::code_span as code;

    #[test]
    fn code_spans_hold_anything() {
        let html = cmark(&format!("- {}\n", code("<script>alert(1)</script>")));
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
    }
}
