//! The wrapper skeleton's per-message path with no broker in the way: one received message
//! (`open_message` + end) and one send (`open_send_with` + inject + end) against the peer
//! (`common`), unsampled and sampled (no span processor). What the broker rows of
//! `tracewire-bench` add on top is the client's.
//!
//! `cargo bench -p tracewire --bench skeleton`

mod common;

use common::Paths;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    for (label, sampled) in [("unsampled", false), ("sampled", true)] {
        let paths = Paths::new(sampled);
        let mut group = c.benchmark_group(format!("one message, {label}"));
        group.bench_function("receive: tracewire open_message + end", |b| {
            b.iter(|| paths.receive())
        });
        group.bench_function("receive: tracewire open_message + context + end", |b| {
            b.iter(|| paths.receive_in_context())
        });
        group.bench_function("receive: tracewire without metrics", |b| {
            b.iter(|| paths.receive_unmeasured())
        });
        group.bench_function("receive: peer extract + span + end", |b| {
            b.iter(|| paths.peer_receive())
        });
        group.bench_function("send: tracewire open_send_with + inject + end", |b| {
            b.iter(|| paths.send())
        });
        group.bench_function("send: peer span + inject + end", |b| {
            b.iter(|| paths.peer_send())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
