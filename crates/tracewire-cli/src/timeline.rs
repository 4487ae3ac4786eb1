//! Waterfalls: text for the terminal; the HTML one is in [`crate::html`].

use crate::report::TimelineRow;
use std::fmt::Write as _;

const WIDTH: f64 = 40.0;

/// The text waterfall.
pub fn text(rows: &[TimelineRow], total_ms: f64) -> String {
    let mut out = String::new();
    let total = total_ms.max(0.001);
    for r in rows {
        let from = ((r.offset_ms / total) * WIDTH).round() as usize;
        let len = r
            .duration_ms
            .map_or(1, |d| ((d / total) * WIDTH).round().max(1.0) as usize);
        let bar = format!(
            "{}{}",
            " ".repeat(from.min(WIDTH as usize)),
            "█".repeat(len.min(WIDTH as usize + 1 - from.min(WIDTH as usize)))
        );
        let dur = r
            .duration_ms
            .map_or("open".to_owned(), |d| format!("{d:.1} ms"));
        let mark = if r.error { " ✖" } else { "" };
        let _ = writeln!(
            out,
            "  {:>9.1} ms |{bar:<w$}| {}{} [{}] {dur}{mark}",
            r.offset_ms,
            "  ".repeat(r.depth.min(12)),
            r.name,
            r.service,
            w = WIDTH as usize + 1
        );
    }
    out
}

/// The HTML waterfall (see [`crate::html::waterfall`]).
pub use crate::html::waterfall as html;
