//! Terminal tables, one per section; bold headers only when styled (a terminal, no
//! `NO_COLOR`). Every cell is escaped: a page name cannot move the cursor.

use std::fmt::Write as _;

use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};

use super::{Renderer, rows};
use crate::escape::terminal;
use crate::metrics::Metrics;

pub struct Tables {
    pub styled: bool,
}

impl Renderer for Tables {
    fn render(&self, m: &Metrics, sections: &[&str]) -> String {
        let mut out = format!(
            "{} to {} ({} days, {}, amounts in {})\n",
            m.period.since, m.period.until, m.period.days, m.period.timezone, m.period.currency
        );
        for s in sections {
            let mut table = Table::new();
            table
                .load_style(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic);
            if !self.styled {
                table.force_no_tty();
            }
            let header = |t: &str| {
                let cell = Cell::new(t);
                if self.styled {
                    cell.add_attribute(Attribute::Bold)
                } else {
                    cell
                }
            };
            table.set_header(vec![header(s), header("value")]);
            for (k, v) in rows(m, s) {
                table.add_row(vec![terminal(&k), terminal(&v)]);
            }
            let _ = writeln!(out, "{table}");
        }
        out
    }
}
