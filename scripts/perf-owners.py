#!/usr/bin/env python3
"""The clock per message, by whose code asked for it: `perf` samples, not instructions.

    perf record -m 8192 -e cpu-clock -F 5000 --call-graph dwarf,16384 -o row.data \\
        tracewire-bench kafka-consume --count unsampled --rounds 5 --chunks 1 --scale 2
    perf script -i row.data --comm tracewire-bench -F ip,sym | perf-owners.py 5000 200000 Counted \\
        [--owner OWNER] [--calls] [--phases ANCHOR DEPTH]

Only samples with a frame matching ROOT (a regex: the bench's `Counted`, which holds the row's
counted messages and not its warm-up) count; MESSAGES is the count the bench prints. Each is
charged to the first frame, leaf upward, of a known owner — tracewire's crates, the bench's
peer, OpenTelemetry's API or SDK, the client, the runtime — so the allocator, `memcpy` and
generic std code land on whoever called them, an inlined OpenTelemetry function is
OpenTelemetry's, and so is std's generic code run for an OpenTelemetry type (a `Context`'s drop,
a span's `Arc`) (the binary needs line tables: CARGO_PROFILE_RELEASE_DEBUG=line-tables-only).
callgrind counts instructions exactly; this is what they cost on the machine: stalls on locked
instructions, on a load of a value just stored in pieces, on memory another core wrote.

With --phases, the samples under ANCHOR (a regex) grouped by the DEPTH frames below it instead;
with --owner, only the samples charged to that owner (`tracewire`, `peer`…); with --calls, the
samples by the function they are charged to rather than by their leaf.
"""
import argparse
import collections
import re
import sys

OWNERS = [
    ("tracewire", r"tracewire(_kafka|_nats|_amqp|_http|_telemetry)?::"),
    ("peer", r"tracewire_bench::peer"),
    ("bench", r"tracewire_bench::"),
    # The SDK's `TraceContextPropagator`: the peer's parsing, where tracewire parses in its own.
    ("propagator", r"opentelemetry_sdk::propagation::"),
    ("otel-sdk", r"opentelemetry_sdk::"),
    ("otel-api", r"opentelemetry::"),
    ("client", r"(rdkafka|async_nats|lapin|amq_protocol|pinky_swear)::|^rd_"),
    ("runtime", r"(tokio|futures[a-z_]*)::"),
    ("quanta", r"quanta::"),
]
OWNER_RES = [(name, re.compile(r"^[<&]*(" + pattern + ")")) for name, pattern in OWNERS]


# The life of a `Context` or a span — `drop_in_place<opentelemetry::context::Context>`,
# `new<opentelemetry::trace::context::SynchronizedSpan>`, the SDK span's drop — is
# OpenTelemetry's: their reference counts and allocations, whoever's function they were inlined
# into. (Writing a `KeyValue` into a `Vec` stays the caller's.)
OTEL_TYPE = re.compile(
    r"^[\w:]*(drop_in_place|drop|drop_slow|new|clone)<&?(mut )?"
    r"(opentelemetry::(context|trace::context)|opentelemetry(_sdk)::trace)::"
)


# A value's drop or clone, inlined under a generic name (`drop_in_place<async_nats::…>`), is its
# type's owner's: the client's message, tracewire's wrapped message.
TYPE_LIFE = re.compile(r"^[\w:]*(drop_in_place|drop|drop_slow|clone)<&?(mut )?(.+)$")
TYPE_OWNERS = ("tracewire", "client", "runtime")


def direct_owner(frame):
    return next((name for name, pattern in OWNER_RES if pattern.search(frame)), None)


def owner(frame):
    found = direct_owner(frame)
    if found is None and (m := OTEL_TYPE.search(frame)):
        return "otel-sdk" if m.group(5) else "otel-api"
    if found is None and (m := TYPE_LIFE.search(frame)):
        inner = direct_owner(m.group(3))
        return inner if inner in TYPE_OWNERS else None
    return found


def charge(stack, root):
    """The owner a sample goes to, and the frame that decided: the first owned frame, leaf
    upward, below the root; the row's loop's own (`bench`) when none is (the loop's body is
    inlined under generic names such as `{async_fn#0}`)."""
    for frame in stack:
        if root.search(frame):
            return "bench", frame
        if who := owner(frame):
            return who, frame
    return "other", None


def stacks(lines):
    """Each sample's frames, leaf first, names without offsets or `(inlined)`.

    perf prints an address's real function first, then the functions inlined there, innermost
    first: the real function goes after them, so code inlined into a caller (a peer's call into
    OpenTelemetry, the bench's loop inside `Traced::poll`) is charged to the inlined code.
    """
    stack, frames, address = [], [], None

    def flush():
        # The real function, printed first, is the outermost of its address.
        stack.extend(frames[1:] + frames[:1])
        frames.clear()

    for line in lines:
        line = line.rstrip()
        if not line:
            flush()
            if stack:
                yield stack
            stack, address = [], None
            continue
        m = re.match(r"\s+([0-9a-f]+) (.+)$", line)
        if m:
            if m.group(1) != address:
                flush()
                address = m.group(1)
            frame = re.sub(r" \((inlined|/[^)]*)\)$", "", m.group(2))
            frames.append(re.sub(r"\+0x[0-9a-f]+$", "", frame))
    flush()
    if stack:
        yield stack


def main():
    args = argparse.ArgumentParser(description="ns a message by owner, from `perf script`")
    args.add_argument("freq", type=float)
    args.add_argument("messages", type=float)
    args.add_argument("root", type=re.compile)
    args.add_argument("--phases", nargs=2, metavar=("ANCHOR", "DEPTH"))
    args.add_argument("--owner", help="only the samples charged to this owner")
    args.add_argument("--calls", action="store_true", help="by the function charged, not the leaf")
    args = args.parse_args()
    anchor, depth = (re.compile(args.phases[0]), int(args.phases[1])) if args.phases else (None, 0)
    ns = 1e9 / args.freq / args.messages  # one sample, spread over the messages
    by_owner, by_leaf, by_phase = (collections.Counter() for _ in range(3))
    inside = 0
    for stack in stacks(sys.stdin):
        if not any(args.root.search(f) for f in stack):
            continue
        inside += 1
        who, charged = charge(stack, args.root)
        if args.owner and who != args.owner:
            continue
        if anchor:
            rooted = stack[::-1]
            at = next((i for i, f in enumerate(rooted) if anchor.search(f)), None)
            if at is not None:
                by_phase[" > ".join(f[:70] for f in rooted[at + 1:at + 1 + depth]) or "(self)"] += 1
            continue
        by_owner[who] += 1
        if args.calls:
            leaf = charged or stack[0]
        else:
            leaf = stack[0] if stack[0] == charged else f"{stack[0]}  [for {charged}]"
        by_leaf[(who, leaf)] += 1
    print(f"under the root: {inside * ns:,.0f} ns a message ({inside} samples)")
    if anchor:
        for phase, n in by_phase.most_common(40):
            print(f"{n * ns:8.1f} ns  {phase}")
        return
    for who, n in by_owner.most_common():
        print(f"  {who:<10}{n * ns:8.0f} ns")
    for (who, leaf), n in by_leaf.most_common(40):
        print(f"{n * ns:8.1f} ns  {who:<10}{leaf[:150]}")


if __name__ == "__main__":
    main()
