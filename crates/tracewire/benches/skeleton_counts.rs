//! The skeleton's paths (`common`) run a fixed number of times inside one function, for an
//! instruction-exact profile that the clock's noise cannot blur:
//!
//! ```text
//! cargo bench -p tracewire --bench skeleton_counts --no-run
//! valgrind --tool=callgrind --toggle-collect='*counted*' target/release/deps/skeleton_counts-* receive unsampled
//! callgrind_annotate --inclusive=yes callgrind.out.*
//! ```
//!
//! Paths: `receive`, `receive-in-context` (the handler asks for the span's context),
//! `receive-unmeasured` (no metrics),
//! `peer-receive`, `send`, `peer-send`; then `unsampled` or `sampled`; then
//! `listened` to install a start listener (what a span log is) that asks for every description:
//! what a span log costs the skeleton.
//! Without valgrind it just runs them (so `cargo bench` passes over it quickly).

mod common;

use common::Paths;

const RUNS: usize = 10_000;

/// A start listener that asks for every description and drops it.
struct Describes;

impl tracewire::span::StartListener for Describes {
    fn started(
        &self,
        _cx: &opentelemetry::Context,
        describe: &mut dyn FnMut() -> tracewire::span::Starting,
    ) {
        std::hint::black_box(describe());
    }
}

/// What callgrind counts: `RUNS` runs of one path, after the warm-up.
#[inline(never)]
fn counted(path: fn(&Paths), paths: &Paths) {
    for _ in 0..RUNS {
        path(paths);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("receive", String::as_str);
    let sampled = args.get(1).is_some_and(|s| s == "sampled");
    if args.get(2).is_some_and(|s| s == "listened") {
        tracewire::span::set_start_listener(std::sync::Arc::new(Describes));
    }
    let path: fn(&Paths) = match which {
        "receive" => Paths::receive,
        "receive-in-context" => Paths::receive_in_context,
        "receive-unmeasured" => Paths::receive_unmeasured,
        "peer-receive" => Paths::peer_receive,
        "send" => Paths::send,
        "peer-send" => Paths::peer_send,
        // `cargo bench` passes `--bench`: run every path once, briefly.
        _ => {
            let paths = Paths::new(false);
            for path in [
                Paths::receive,
                Paths::receive_in_context,
                Paths::peer_receive,
                Paths::send,
                Paths::peer_send,
            ] {
                path(&paths);
            }
            return;
        }
    };
    let paths = Paths::new(sampled);
    for _ in 0..1_000 {
        path(&paths); // warm-up: caches, the destination table, lazy statics
    }
    counted(path, &paths);
}
