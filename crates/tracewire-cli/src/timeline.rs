//! Waterfalls: text for the terminal, and one self-contained HTML file (no network, no CDN).

use crate::report::{TimelineRow, TraceReport};
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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
];

/// The HTML waterfall: bars on a time axis nested by parent, a colour per service, failed spans
/// marked, producer→consumer hops drawn as arrows (by the page's own script), details on hover.
pub fn html(r: &TraceReport) -> String {
    let total = r.duration_ms.max(0.001);
    let color =
        |svc: &str| PALETTE[r.services.iter().position(|s| s == svc).unwrap_or(0) % PALETTE.len()];
    let mut rows = String::new();
    for (i, row) in r.timeline.iter().enumerate() {
        let left = row.offset_ms / total * 100.0;
        let width = row
            .duration_ms
            .map_or(0.3, |d| (d / total * 100.0).max(0.3));
        let details = format!(
            "{} [{}]\nkind: {:?}\nstart: +{:.3} ms\nduration: {}\nspan: {}{}{}",
            row.name,
            row.service,
            row.kind,
            row.offset_ms,
            row.duration_ms
                .map_or("never ended".into(), |d| format!("{d:.3} ms")),
            row.span_id,
            row.parent_span_id
                .as_ref()
                .map_or(String::new(), |p| format!("\nparent: {p}")),
            row.error_code
                .as_ref()
                .map_or(String::new(), |e| format!("\nerror: {e}")),
        );
        let _ = write!(
            rows,
            r#"<div class="row" style="top:{top}px"><div class="label" style="padding-left:{pad}px" title="{title}">{mark}{name} <span class="svc">{svc}</span></div><div class="track"><div class="bar{err}" id="s{id}" data-span-id="{id}" data-parent="{parent}" data-links="{links}" data-kind="{kind:?}" style="left:{left:.3}%;width:{width:.3}%;background:{color}" title="{title}"></div></div></div>"#,
            top = i * 26,
            pad = 6 + row.depth * 14,
            title = escape(&details),
            mark = if row.error { "✖ " } else { "" },
            name = escape(&row.name),
            svc = escape(&row.service),
            err = if row.error { " error" } else { "" },
            id = row.span_id,
            parent = row.parent_span_id.clone().unwrap_or_default(),
            links = row.links.join(" "),
            kind = row.kind,
            color = color(&row.service),
        );
    }
    let ticks: String = (0..5)
        .map(|i| {
            format!(
                r#"<span class="tick" style="left:{}%">{:.1} ms</span>"#,
                i * 25,
                total * f64::from(i) / 4.0
            )
        })
        .collect();
    let legend: String = r
        .services
        .iter()
        .map(|s| {
            format!(
                r#"<span class="key"><i style="background:{}"></i>{}</span>"#,
                color(s),
                escape(s)
            )
        })
        .collect();
    let path: String = r
        .critical_path
        .iter()
        .map(|s| {
            format!(
                "<li>{:.1} ms ({:.0}%) — {}{}</li>",
                s.duration_ms,
                s.share * 100.0,
                escape(&s.what),
                if s.service.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", escape(&s.service))
                }
            )
        })
        .collect();
    let cause = r.root_cause.as_ref().map_or(String::new(), |c| {
        format!(
            r#"<p class="cause">Root cause: {} in {} — {}</p>"#,
            escape(&c.span),
            escape(&c.service),
            escape(c.message.as_deref().unwrap_or("error"))
        )
    });
    let broken: String = r
        .lost
        .iter()
        .chain(&r.never_ended)
        .map(|l| format!(r#"<p class="cause">Broken: {}</p>"#, escape(l)))
        .chain(
            r.uncertain
                .iter()
                .map(|l| format!("<p>Uncertain: {}</p>", escape(l))),
        )
        .chain(
            r.log_gaps
                .iter()
                .map(|g| format!("<p>Span-log gap: {}</p>", escape(g))),
        )
        .collect();
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>trace {id}</title>
<style>
body{{font:13px system-ui,sans-serif;margin:16px;color:#222}}
h1{{font-size:16px}} .key{{margin-right:12px}} .key i{{display:inline-block;width:10px;height:10px;margin-right:4px}}
#chart{{position:relative;height:{height}px;margin-top:12px}}
.row{{position:absolute;left:0;right:0;height:24px;display:flex;border-bottom:1px solid #eee}}
.label{{width:34%;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;line-height:24px}}
.svc{{color:#888}} .track{{position:relative;flex:1}}
.bar{{position:absolute;top:5px;height:14px;border-radius:3px;min-width:2px}}
.bar.error{{outline:2px solid #d62728}} .bar:hover{{filter:brightness(1.2)}}
#hops{{position:absolute;left:34%;top:0;width:66%;height:100%;pointer-events:none;overflow:visible}}
.cause{{color:#d62728}}
.axis{{display:flex;height:18px;margin-top:10px;color:#666;font-size:11px}} .tick{{position:absolute;border-left:1px solid #bbb;padding-left:3px;height:18px}}
</style></head><body>
<h1>Trace {id} — {total:.1} ms</h1>
<div>{legend}</div>{cause}{broken}
<div class="axis"><div class="label"></div><div class="track">{ticks}</div></div>
<div id="chart">{rows}<svg id="hops"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs></svg></div>
<h2>Critical path</h2><ol>{path}</ol>
<script>
// Draw producer → consumer hops: an arrow from each PRODUCER bar to every span it parents or is linked from.
(function(){{
  var svg=document.getElementById('hops'),chart=document.getElementById('chart').getBoundingClientRect();
  var ns='http://www.w3.org/2000/svg',svgBox=svg.getBoundingClientRect();
  document.querySelectorAll('.bar').forEach(function(bar){{
    var sources=[bar.dataset.parent].concat(bar.dataset.links?bar.dataset.links.split(' '):[]);
    var seen={{}};
    sources.forEach(function(id){{
      if(!id||seen[id])return;seen[id]=1;
      var from=document.getElementById('s'+id);
      if(!from||from.dataset.kind!=='Producer')return;
      var a=from.getBoundingClientRect(),b=bar.getBoundingClientRect();
      var line=document.createElementNS(ns,'line');
      line.setAttribute('class','hop');
      line.setAttribute('data-from',id);line.setAttribute('data-to',bar.dataset.spanId);
      line.setAttribute('x1',a.right-svgBox.left);line.setAttribute('y1',a.top+a.height/2-svgBox.top);
      line.setAttribute('x2',b.left-svgBox.left);line.setAttribute('y2',b.top+b.height/2-svgBox.top);
      line.setAttribute('stroke','#555');line.setAttribute('stroke-dasharray','3,2');line.setAttribute('marker-end','url(#arrow)');
      svg.appendChild(line);
    }});
  }});
}})();
</script></body></html>
"##,
        id = escape(&r.trace_id),
        total = r.duration_ms,
        height = r.timeline.len() * 26 + 4,
    )
}
