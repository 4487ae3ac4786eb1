//! `graph`: the service dependency graph, edges labelled with broker, destination and count.

use crate::report::Edge;

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz DOT.
pub fn dot(edges: &[Edge]) -> String {
    let mut out = String::from("digraph services {\n  rankdir=LR;\n  node [shape=box];\n");
    for Edge {
        from,
        to,
        system,
        destination: dest,
        messages: n,
    } in edges
    {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [label=\"{} {} ({n})\"];\n",
            quote(from),
            quote(to),
            quote(system),
            quote(dest)
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart.
pub fn mermaid(edges: &[Edge]) -> String {
    let id = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    let label = |s: &str| s.replace(['"', '|'], "'");
    let mut out = String::from("flowchart LR\n");
    for Edge {
        from,
        to,
        system,
        destination: dest,
        messages: n,
    } in edges
    {
        out.push_str(&format!(
            "  {}[\"{}\"] -->|\"{} {} ({n})\"| {}[\"{}\"]\n",
            id(from),
            label(from),
            label(system),
            label(dest),
            id(to),
            label(to)
        ));
    }
    out
}
