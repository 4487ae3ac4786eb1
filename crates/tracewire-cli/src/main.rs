//! `tracewire`: rebuild traces from span logs.

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;
use tracewire_cli::{
    analysis, check, collect, context_cmd, diff, graph, html, input, render, timeline,
};

#[derive(Parser)]
#[command(
    name = "tracewire",
    version,
    about = "Rebuild traces from span logs: where did the message go, and what was slow?"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Subcommand)]
enum Command {
    /// Summary of all traces, or the report of one (--trace-id).
    Analyze {
        #[arg(long)]
        trace_id: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Seconds after which a message sent and not processed counts as lost.
        #[arg(long, default_value_t = 5.0)]
        grace: f64,
        /// With --trace-id: link hops followed each way (0: the trace alone).
        #[arg(long, default_value_t = analysis::FLOW_DEPTH)]
        depth: usize,
        /// Span logs (JSON lines) or OTLP JSON files; globs; `-` or nothing for stdin.
        files: Vec<String>,
    },
    /// The waterfall of one trace, in the terminal or as a self-contained HTML file.
    Timeline {
        #[arg(long)]
        trace_id: String,
        /// Write the HTML waterfall here.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
        /// Link hops followed each way (0: the trace alone).
        #[arg(long, default_value_t = analysis::FLOW_DEPTH)]
        depth: usize,
        files: Vec<String>,
    },
    /// A browsable set of HTML pages: an index of flows (errors and lost messages first)
    /// linking to each flow's waterfall. Self-contained files, nothing fetched.
    Html {
        /// The directory written: `index.html` and `<root trace>.html` per flow.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Flows with a waterfall page (errors and lost first, then the slowest).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, default_value_t = 5.0)]
        grace: f64,
        /// Link hops a flow follows downstream.
        #[arg(long, default_value_t = analysis::FLOW_DEPTH)]
        depth: usize,
        /// Span logs or OTLP JSON files (read twice: no standard input).
        files: Vec<String>,
    },
    /// The service dependency graph.
    Graph {
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
        files: Vec<String>,
    },
    /// Messages sent but never processed, and spans started but never ended. Exit status: 0 when
    /// nothing is missing, 1 when something is lost, 3 when all that is missing falls in a
    /// span-log gap (uncertain: the line may have been dropped, not the message).
    Lost {
        #[arg(long, default_value_t = 5.0)]
        grace: f64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        files: Vec<String>,
    },
    /// Two traces (or their flows) side by side, hop by hop: which hop got slower, in queue or
    /// processing.
    Diff {
        /// The trace to compare with (A).
        a: String,
        /// The trace compared (B).
        b: String,
        /// Link hops followed each way (0: the traces alone).
        #[arg(long, default_value_t = analysis::FLOW_DEPTH)]
        depth: usize,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Span logs or OTLP JSON files (read twice: no standard input).
        files: Vec<String>,
    },
    /// Assertions for CI over span logs or OTLP JSON: exit 0 when all hold, 1 when one fails.
    Check {
        /// Seconds after which a message sent and not processed counts as lost.
        #[arg(long, default_value_t = 5.0)]
        grace: f64,
        /// Lost messages and never-ended spans do not fail the check.
        #[arg(long)]
        allow_lost: bool,
        /// What a span-log gap may hide does not fail the check.
        #[arg(long)]
        allow_uncertain: bool,
        /// Error spans do not fail the check.
        #[arg(long)]
        allow_errors: bool,
        /// An error code (`error.type`) that does not fail the check; repeatable.
        #[arg(long = "allow-error", value_name = "CODE")]
        allowed_errors: Vec<String>,
        /// Services every flow entering the first must cross in order: `gateway,payment,fulfillment`.
        #[arg(long = "path", value_name = "A,B,…")]
        paths: Vec<String>,
        /// A limit on time in queue: `p99=200` (ms); repeatable.
        #[arg(long = "queue-ms", value_name = "pN=MS")]
        queue: Vec<check::Limit>,
        /// A limit on traces' end-to-end durations: `p95=500` (ms); repeatable.
        #[arg(long = "duration-ms", value_name = "pN=MS")]
        duration: Vec<check::Limit>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        files: Vec<String>,
    },
    /// Make a trace context, or explain one.
    Context {
        #[command(subcommand)]
        action: ContextAction,
    },
}

#[derive(Subcommand)]
enum ContextAction {
    /// A new traceparent and correlation id.
    New {
        #[arg(long)]
        json: bool,
    },
    /// Validate a traceparent (and tracestate) and say which rule it breaks.
    Parse {
        traceparent: String,
        #[arg(long)]
        tracestate: Option<String>,
    },
}

fn read(
    files: &[String],
    trace_id: Option<&str>,
) -> Result<tracewire_cli::collect::Collector, String> {
    let inputs = input::expand(files)?;
    let (c, stats) = collect(&inputs, trace_id)?;
    if stats.malformed > 0 {
        eprintln!(
            "tracewire: skipped {} malformed line(s) of {}",
            stats.malformed, stats.lines
        );
    }
    Ok(c)
}

/// Reads the flow of `trace_id`: a first pass finds the traces linked to and from it, a second
/// keeps all their spans (files only: standard input cannot be read twice).
fn read_flow(
    files: &[String],
    trace_id: &str,
    depth: usize,
) -> Result<tracewire_cli::collect::Collector, String> {
    let c = read(files, Some(trace_id))?;
    let flow = c.flow(trace_id, depth);
    if flow.len() < 2 {
        return Ok(c);
    }
    let inputs = input::expand(files)?;
    if inputs.iter().any(Option::is_none) {
        eprintln!("tracewire: links not followed: standard input cannot be read twice");
        return Ok(c);
    }
    Ok(tracewire_cli::collect_into(collect::Collector::for_flow(&flow), &inputs)?.0)
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Analyze {
            trace_id,
            format,
            grace,
            depth,
            files,
        } => {
            let grace_us = (grace * 1e6) as i64;
            let c = match &trace_id {
                Some(id) => read_flow(&files, id, depth)?,
                None => read(&files, None)?,
            };
            let out = match &trace_id {
                Some(id) => {
                    let r = analysis::trace_report(&c, &id.to_ascii_lowercase(), grace_us)
                        .ok_or_else(|| format!("no span of trace {id} in the input"))?;
                    match format {
                        Format::Text => render::report_text(&r),
                        Format::Json => {
                            serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
                        }
                    }
                }
                None => {
                    let s = analysis::summary(&c, grace_us);
                    match format {
                        Format::Text => render::summary_text(&s),
                        Format::Json => {
                            serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?
                        }
                    }
                }
            };
            println!("{}", out.trim_end());
        }
        Command::Timeline {
            trace_id,
            html,
            depth,
            files,
        } => {
            let c = read_flow(&files, &trace_id, depth)?;
            let r = analysis::trace_report(&c, &trace_id.to_ascii_lowercase(), 5_000_000)
                .ok_or_else(|| format!("no span of trace {trace_id} in the input"))?;
            match html {
                Some(path) => {
                    std::fs::write(&path, timeline::html(&r))
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    println!("wrote {}", path.display());
                }
                None => {
                    let mut out = timeline::text(&r.timeline, r.duration_ms);
                    render::write_gaps(&mut out, r.log_gaps.iter().cloned());
                    print!("{out}");
                }
            }
        }
        Command::Html {
            out,
            limit,
            grace,
            depth,
            files,
        } => {
            let inputs = input::expand(&files)?;
            if inputs.iter().any(Option::is_none) {
                return Err("html reads its files twice: name them, not standard input".into());
            }
            let grace_us = (grace * 1e6) as i64;
            let (c, _) =
                tracewire_cli::collect_into(collect::Collector::new(None).track_paths(), &inputs)?;
            let mut flows: Vec<(Vec<String>, html::FlowEntry)> = (c.flows(depth).into_iter())
                .map(|f| {
                    let entry = c.flow_entry(&f, grace_us);
                    (f, entry)
                })
                .collect();
            flows.sort_by(|(_, a), (_, b)| html::worst_first(a, b));
            flows.truncate(limit);
            let all: Vec<String> = flows.iter().flat_map(|(f, _)| f.clone()).collect();
            let (full, _) =
                tracewire_cli::collect_into(collect::Collector::for_flow(&all), &inputs)?;
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            let write = |name: String, page: String| {
                let path = out.join(name);
                std::fs::write(&path, page)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            };
            for (flow, entry) in &flows {
                let spans: std::collections::HashMap<_, _> = (full.selected().iter())
                    .filter(|(_, s)| flow.contains(&s.trace_id))
                    .map(|(k, s)| (*k, s.clone()))
                    .collect();
                if let Some(r) = analysis::flow_report(&full, &spans, &entry.root, grace_us) {
                    write(format!("{}.html", entry.root), timeline::html(&r))?;
                }
            }
            let entries: Vec<html::FlowEntry> = flows.into_iter().map(|(_, e)| e).collect();
            write("index.html".into(), html::index(&entries))?;
            println!(
                "wrote {} ({} flows)",
                out.join("index.html").display(),
                entries.len()
            );
        }
        Command::Graph { format, files } => {
            let c = read(&files, None)?;
            let edges = c.edges();
            print!(
                "{}",
                match format {
                    GraphFormat::Dot => graph::dot(&edges),
                    GraphFormat::Mermaid => graph::mermaid(&edges),
                }
            );
        }
        Command::Lost {
            grace,
            format,
            files,
        } => {
            let c = read(&files, None)?;
            let grace_us = (grace * 1e6) as i64;
            let (lost, open) = (c.lost(grace_us), c.never_ended());
            let (sent, ends) = (c.missing_messages(grace_us), c.missing_ends());
            let uncertain = sent.len() + ends.len() - lost.len() - open.len();
            let svc = |i: u32| c.service(i);
            match format {
                Format::Json => {
                    let v = serde_json::json!({
                        "lost": lost.iter().map(|s| serde_json::json!({
                            "trace_id": s.trace_id.to_string(), "service": svc(s.service), "span": s.name,
                            "system": s.system, "destination": s.destination, "correlation_id": s.correlation_id,
                        })).collect::<Vec<_>>(),
                        "never_ended": open.iter().map(|o| serde_json::json!({
                            "trace_id": o.trace_id.to_string(), "service": svc(o.service), "span": o.name,
                        })).collect::<Vec<_>>(),
                        "infrastructure_open": c.infrastructure_open().iter().map(|o| serde_json::json!({
                            "trace_id": o.trace_id.to_string(), "service": svc(o.service), "span": o.name,
                        })).collect::<Vec<_>>(),
                        "uncertain": sent.iter().filter_map(|m| m.gap().map(|g| serde_json::json!({
                            "trace_id": m.item().trace_id.to_string(), "service": svc(m.item().service),
                            "span": m.item().name, "destination": m.item().destination, "gap_service": g.service,
                        }))).chain(ends.iter().filter_map(|m| m.gap().map(|g| serde_json::json!({
                            "trace_id": m.item().trace_id.to_string(), "service": svc(m.item().service),
                            "span": m.item().name, "never_ended": true, "gap_service": g.service,
                        })))).collect::<Vec<_>>(),
                        "log_gaps": c.gaps(),
                    });
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                    );
                }
                Format::Text => print!("{}", render::lost_text(&c, grace_us)),
            }
            if !lost.is_empty() || !open.is_empty() {
                return Ok(ExitCode::from(1));
            }
            if uncertain > 0 {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Diff {
            a,
            b,
            depth,
            format,
            files,
        } => {
            let inputs = input::expand(&files)?;
            if inputs.iter().any(Option::is_none) {
                return Err("diff reads its files twice: name them, not standard input".into());
            }
            let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
            let (c, _) = collect(&inputs, None)?;
            let (flow_a, flow_b) = (c.flow(&a, depth), c.flow(&b, depth));
            let both: Vec<String> = flow_a.iter().chain(&flow_b).cloned().collect();
            let (c, _) = tracewire_cli::collect_into(collect::Collector::for_flow(&both), &inputs)?;
            let spans_of = |flow: &[String], id: &str| {
                let spans: std::collections::HashMap<_, _> = (c.selected().iter())
                    .filter(|(_, s)| flow.contains(&s.trace_id))
                    .map(|(k, s)| (*k, s.clone()))
                    .collect();
                match spans.is_empty() {
                    true => Err(format!("no span of trace {id} in the input")),
                    false => Ok(spans),
                }
            };
            let d = diff::diff(&spans_of(&flow_a, &a)?, &spans_of(&flow_b, &b)?);
            match format {
                Format::Text => print!("{}", diff::text(&d, &a, &b)),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&d).map_err(|e| e.to_string())?
                ),
            }
        }
        Command::Check {
            grace,
            allow_lost,
            allow_uncertain,
            allow_errors,
            allowed_errors,
            paths,
            queue,
            duration,
            format,
            files,
        } => {
            let options = check::CheckOptions {
                grace_us: (grace * 1e6) as i64,
                allow_lost,
                allow_uncertain,
                allow_errors,
                allowed_errors,
                paths: (paths.iter())
                    .map(|p| p.split(',').map(|s| s.trim().to_owned()).collect())
                    .collect(),
                queue,
                duration,
            };
            let mut collector = collect::Collector::new(None);
            if !options.paths.is_empty() {
                collector = collector.track_paths();
            }
            let (c, stats) = tracewire_cli::collect_into(collector, &input::expand(&files)?)?;
            if stats.malformed > 0 {
                eprintln!("tracewire: skipped {} malformed line(s)", stats.malformed);
            }
            let verdicts = check::check(&c, &options);
            match format {
                Format::Text => print!("{}", check::text(&verdicts)),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&verdicts).map_err(|e| e.to_string())?
                ),
            }
            if verdicts.iter().any(|v| !v.passed) {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Context { action } => match action {
            ContextAction::New { json } => {
                let (tp, id) = context_cmd::new_context();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "traceparent": tp, "correlation_id": id })
                    );
                } else {
                    println!("traceparent: {tp}\ncorrelation_id: {id}");
                }
            }
            ContextAction::Parse {
                traceparent,
                tracestate,
            } => {
                let (ok, text) = context_cmd::explain(&traceparent, tracestate.as_deref());
                print!("{text}");
                if !ok {
                    return Ok(ExitCode::from(1));
                }
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tracewire: {e}");
            ExitCode::from(2)
        }
    }
}
