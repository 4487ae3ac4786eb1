//! Self-contained HTML (no network, no CDN, one file each): the waterfall of one trace or flow,
//! and an index of flows linking to their waterfalls.
//!
//! The waterfall: bars on a time axis nested by parent (across links in a flow), a colour per
//! service, failed spans marked, the critical path highlighted, time in queue drawn as its own
//! band between a send and its processing, producer→consumer hops as arrows, a detail panel for
//! the clicked span (attributes, events, links, correlation id), and a zoom. The address
//! `page.html#span=<id>&zoom=4` clicks a span and zooms: a link to share.

use crate::report::TraceReport;
use serde::Serialize;
use std::fmt::Write as _;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// JSON safe inside a `<script>` element.
fn script_json(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    json.replace("</", "<\\/").replace("<!--", "<\\!--")
}

const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
];

const STYLE: &str = r#"
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:16px} .key{margin-right:12px} .key i{display:inline-block;width:10px;height:10px;margin-right:4px}
#main{display:flex;gap:12px} #left{flex:1;min-width:0}
#scroll{overflow-x:auto} #chart{position:relative;margin-top:12px;min-width:100%}
.row{position:absolute;left:0;right:0;height:24px;display:flex;border-bottom:1px solid #eee}
.row.selected{background:#fff6d5}
.label{width:280px;min-width:280px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;line-height:24px;cursor:pointer}
.svc{color:#888} .trace{color:#aaa;font-size:11px} .track{position:relative;flex:1}
.bar{position:absolute;top:5px;height:14px;border-radius:3px;min-width:2px;cursor:pointer}
.bar.error{outline:2px solid #d62728} .bar:hover{filter:brightness(1.2)}
.bar[data-critical]{box-shadow:0 0 0 2px #222}
.queue{position:absolute;top:10px;height:4px;background:repeating-linear-gradient(90deg,#bbb 0 4px,transparent 4px 7px)}
#hops{position:absolute;left:280px;top:0;width:calc(100% - 280px);height:100%;pointer-events:none;overflow:visible}
.cause{color:#d62728}
.axis{display:flex;height:18px;margin-top:10px;color:#666;font-size:11px} .tick{position:absolute;border-left:1px solid #bbb;padding-left:3px;height:18px}
#detail{width:320px;border-left:1px solid #ddd;padding-left:12px;font-size:12px;word-break:break-all}
#detail table{border-collapse:collapse} #detail td{border-bottom:1px solid #eee;padding:2px 4px;vertical-align:top}
"#;

const SCRIPT: &str = r#"
(function(){
  var spans={};JSON.parse(document.getElementById('spans').textContent).forEach(function(s){spans[s.span_id]=s;});
  var chart=document.getElementById('chart'),svg=document.getElementById('hops'),ns='http://www.w3.org/2000/svg';
  // Producer → consumer hops: an arrow from each PRODUCER bar to every span it parents or is linked from.
  function drawHops(){
    svg.querySelectorAll('line').forEach(function(l){l.remove();});
    var box=svg.getBoundingClientRect();
    document.querySelectorAll('.bar').forEach(function(bar){
      var sources=[bar.dataset.parent].concat(bar.dataset.links?bar.dataset.links.split(' '):[]),seen={};
      sources.forEach(function(id){
        if(!id||seen[id])return;seen[id]=1;
        var from=document.getElementById('s'+id);
        if(!from||from.dataset.kind!=='Producer')return;
        var a=from.getBoundingClientRect(),b=bar.getBoundingClientRect(),line=document.createElementNS(ns,'line');
        line.setAttribute('class','hop');line.setAttribute('data-from',id);line.setAttribute('data-to',bar.dataset.spanId);
        line.setAttribute('x1',a.right-box.left);line.setAttribute('y1',a.top+a.height/2-box.top);
        line.setAttribute('x2',b.left-box.left);line.setAttribute('y2',b.top+b.height/2-box.top);
        line.setAttribute('stroke','#555');line.setAttribute('stroke-dasharray','3,2');line.setAttribute('marker-end','url(#arrow)');
        svg.appendChild(line);
      });
    });
  }
  function text(s){return document.createTextNode(s);}
  function el(tag,content){var e=document.createElement(tag);if(content!==undefined)e.appendChild(text(content));return e;}
  function table(pairs){var t=el('table');pairs.forEach(function(p){var r=el('tr');r.appendChild(el('td',p[0]));r.appendChild(el('td',String(p[1])));t.appendChild(r);});return t;}
  // The detail panel: everything known of the clicked span.
  function select(id){
    var s=spans[id];if(!s)return;
    document.querySelectorAll('.row.selected').forEach(function(r){r.classList.remove('selected');});
    var row=document.getElementById('r'+id);if(row)row.classList.add('selected');
    var d=document.getElementById('detail');d.textContent='';
    d.appendChild(el('h3',s.name));
    d.appendChild(table([['service',s.service],['kind',s.kind],['trace',s.trace_id],['span',s.span_id],
      ['parent',s.parent_span_id||'—'],['start','+'+s.offset_ms.toFixed(3)+' ms'],
      ['duration',s.duration_ms==null?'never ended':s.duration_ms.toFixed(3)+' ms'],
      ['correlation id',s.correlation_id||'—'],['error',s.error_code||(s.error?'error':'—')],
      ['critical path',s.critical?'yes':'no']]));
    d.appendChild(el('h4','attributes ('+s.attributes.length+')'));d.appendChild(table(s.attributes));
    d.appendChild(el('h4','events ('+s.events.length+')'));
    var ev=el('ul');s.events.forEach(function(e){ev.appendChild(el('li','+'+e[0].toFixed(3)+' ms '+e[1]+(e[2].length?' '+e[2].map(function(a){return a[0]+'='+a[1];}).join(', '):'')));});d.appendChild(ev);
    d.appendChild(el('h4','links ('+s.links.length+')'));
    var ls=el('ul');s.links.forEach(function(l){var li=el('li');var a=el('a',l+(spans[l]?' — '+spans[l].name+' ['+spans[l].service+']':''));a.href='#span='+l;li.appendChild(a);ls.appendChild(li);});d.appendChild(ls);
  }
  document.querySelectorAll('.bar,.label').forEach(function(e){e.addEventListener('click',function(){select(e.dataset.spanId);});});
  // Zoom: the chart grows and scrolls; the hops are drawn again.
  var zoom=document.getElementById('zoom');
  zoom.addEventListener('input',function(){chart.style.width=(zoom.value*100)+'%';document.getElementById('axis').style.width=(zoom.value*100)+'%';drawHops();});
  // A shareable address: #span=<id> clicks that span, #zoom=<n> zooms.
  function fromHash(){
    var z=location.hash.match(/zoom=([0-9.]+)/);if(z){zoom.value=z[1];zoom.dispatchEvent(new Event('input'));}
    var m=location.hash.match(/span=([0-9a-f]{16})/),bar=m&&document.getElementById('s'+m[1]);if(bar)bar.click();
  }
  window.addEventListener('hashchange',fromHash);
  drawHops();fromHash();
})();
"#;

/// The waterfall page of one trace's report (a flow's, when it has linked traces).
pub fn waterfall(r: &TraceReport) -> String {
    let total = r.duration_ms.max(0.001);
    let color =
        |svc: &str| PALETTE[r.services.iter().position(|s| s == svc).unwrap_or(0) % PALETTE.len()];
    let trace_mark = |trace: &str| match r.traces.iter().position(|t| t == trace) {
        Some(i) if r.traces.len() > 1 => format!(r#" <span class="trace">t{}</span>"#, i + 1),
        _ => String::new(),
    };
    let mut rows = String::new();
    for (i, row) in r.timeline.iter().enumerate() {
        let left = row.offset_ms / total * 100.0;
        let width = (row.duration_ms).map_or(0.3, |d| (d / total * 100.0).max(0.3));
        let queue = row.queued_from_ms.map_or(String::new(), |from| {
            format!(
                r#"<div class="queue" title="in queue {:.1} ms" style="left:{:.3}%;width:{:.3}%"></div>"#,
                row.offset_ms - from,
                from / total * 100.0,
                ((row.offset_ms - from) / total * 100.0).max(0.0)
            )
        });
        let _ = write!(
            rows,
            r#"<div class="row" id="r{id}" style="top:{top}px"><div class="label" data-span-id="{id}" style="padding-left:{pad}px">{mark}{name} <span class="svc">{svc}</span>{trace}</div><div class="track">{queue}<div class="bar{err}" id="s{id}" data-span-id="{id}" data-parent="{parent}" data-links="{links}" data-kind="{kind:?}"{critical} style="left:{left:.3}%;width:{width:.3}%;background:{color}"></div></div></div>"#,
            top = i * 26,
            pad = 6 + row.depth * 14,
            mark = if row.error { "✖ " } else { "" },
            name = escape(&row.name),
            svc = escape(&row.service),
            trace = trace_mark(&row.trace_id),
            err = if row.error { " error" } else { "" },
            id = row.span_id,
            parent = row.parent_span_id.clone().unwrap_or_default(),
            links = row.links.join(" "),
            kind = row.kind,
            critical = if row.critical {
                r#" data-critical="1""#
            } else {
                ""
            },
            color = color(&row.service),
        );
    }
    let ticks: String = (0..5)
        .map(|i| {
            let at = total * f64::from(i) / 4.0;
            format!(
                r#"<span class="tick" style="left:{}%">{at:.1} ms</span>"#,
                i * 25
            )
        })
        .collect();
    let legend: String = (r.services.iter())
        .map(|s| {
            format!(
                r#"<span class="key"><i style="background:{}"></i>{}</span>"#,
                color(s),
                escape(s)
            )
        })
        .collect();
    let path: String = (r.critical_path.iter())
        .map(|s| {
            let who = match s.service.is_empty() {
                true => String::new(),
                false => format!(" [{}]", escape(&s.service)),
            };
            format!(
                "<li>{:.1} ms ({:.0}%) — {}{who}</li>",
                s.duration_ms,
                s.share * 100.0,
                escape(&s.what)
            )
        })
        .collect();
    let cause = r.root_cause.as_ref().map_or(String::new(), |c| {
        let why = c.message.as_deref().unwrap_or("error");
        format!(
            r#"<p class="cause">Root cause: {} in {} — {}</p>"#,
            escape(&c.span),
            escape(&c.service),
            escape(why)
        )
    });
    let notes: String = (r.lost.iter().chain(&r.never_ended))
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
    let flow = match r.traces.len() {
        0 | 1 => String::new(),
        n => format!(
            r#"<p id="flow">Flow of {n} linked traces: {}</p>"#,
            (r.traces.iter().enumerate())
                .map(|(i, t)| format!("t{} {}", i + 1, escape(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>trace {id}</title>
<style>{STYLE}</style></head><body>
<h1>Trace {id} — {total:.1} ms</h1>
{flow}<div>{legend} <label>zoom <input type="range" id="zoom" min="1" max="20" step="0.5" value="1"></label> <span class="key">▭ critical path</span> <span class="key">┈ in queue</span></div>{cause}{notes}
<div id="main"><div id="left"><div id="scroll">
<div class="axis" id="axis"><div class="label"></div><div class="track">{ticks}</div></div>
<div id="chart" style="height:{height}px">{rows}<svg id="hops"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs></svg></div>
</div>
<h2>Critical path</h2><ol>{path}</ol></div>
<aside id="detail"><p>Click a span for its attributes, events and links.</p></aside></div>
<script type="application/json" id="spans">{spans}</script>
<script>{SCRIPT}</script></body></html>
"##,
        id = escape(&r.trace_id),
        total = r.duration_ms,
        height = r.timeline.len() * 26 + 4,
        spans = script_json(&r.timeline),
    )
}

/// One flow on the index page.
#[derive(Debug, Clone, Serialize)]
pub struct FlowEntry {
    /// The flow's root trace; its waterfall is `<root>.html`.
    pub root: String,
    /// Traces in the flow.
    pub traces: usize,
    /// First start to last end (ms).
    pub duration_ms: f64,
    /// Services crossed, in order.
    pub services: Vec<String>,
    /// Failed spans.
    pub errors: u32,
    /// Messages sent and never processed, and spans never ended.
    pub lost: usize,
}

/// The index's order: flows with errors or lost messages first, then the slowest.
pub fn worst_first(a: &FlowEntry, b: &FlowEntry) -> std::cmp::Ordering {
    let bad = |f: &FlowEntry| f.errors > 0 || f.lost > 0;
    (bad(b).cmp(&bad(a))).then(b.duration_ms.total_cmp(&a.duration_ms))
}

/// The index page: every flow, those with errors or lost messages first, then the slowest,
/// each linking to its waterfall.
pub fn index(flows: &[FlowEntry]) -> String {
    let mut sorted: Vec<&FlowEntry> = flows.iter().collect();
    sorted.sort_by(|a, b| worst_first(a, b));
    let rows: String = (sorted.iter())
        .map(|f| {
            let class = if f.errors > 0 || f.lost > 0 { " class=\"bad\"" } else { "" };
            format!(
                r#"<tr{class} data-root="{root}"><td><a href="{root}.html">{root}</a></td><td>{traces}</td><td>{ms:.1}</td><td>{services}</td><td>{errors}</td><td>{lost}</td></tr>"#,
                root = escape(&f.root),
                traces = f.traces,
                ms = f.duration_ms,
                services = escape(&f.services.join(" → ")),
                errors = f.errors,
                lost = f.lost,
            )
        })
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tracewire flows</title>
<style>body{{font:13px system-ui,sans-serif;margin:16px}} table{{border-collapse:collapse}} td,th{{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}} tr.bad td{{color:#d62728}}</style>
</head><body><h1>{n} flows — errors and lost messages first</h1>
<table id="flows"><tr><th>flow (root trace)</th><th>traces</th><th>ms</th><th>services</th><th>errors</th><th>lost</th></tr>{rows}</table>
</body></html>
"#,
        n = flows.len(),
    )
}
