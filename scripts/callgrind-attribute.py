#!/usr/bin/env python3
"""Instructions and allocations per message in callgrind profiles, charged to whose code asked.

    callgrind-attribute.py MESSAGES PROFILE...
    callgrind-attribute.py --calls OWNER MESSAGES PROFILE...   # what OWNER's share is spent on

callgrind-owners.py splits self instructions by the function's crate, which leaves the allocator,
memcpy and std's generic code (format!, Vec growth, Arc drops) in columns of their own. Here
each instruction goes to the owner of its source file where the binary has line tables
(`CARGO_PROFILE_RELEASE_DEBUG=line-tables-only`: code inlined into another crate's function
still counts for its own crate), else of its function's name; instructions of code nobody owns
(the allocator, libc, std, hashbrown…) are charged to their callers through the call graph, in
proportion to what each caller spent in them, until they reach code with an owner:

  harness      the bench's own loop (crates/tracewire-bench, Counted, Traced::poll)
  peer         the hand-written peer's own code (crates/tracewire-bench/src/peer)
  tracewire    tracewire's crates
  propagator   OpenTelemetry's W3C propagator (TraceContextPropagator, TraceId/SpanId::from_hex):
               the part of the peer's work that tracewire replaces with its own
  opentelemetry  the rest of OpenTelemetry's API and SDK: spans, contexts, metrics
  client       the broker client and its runtime

and prints one line per profile: instructions a message, by owner. A row's profiles side by side
then say where tracewire and the peer differ. (No allocation counts: callgrind counts calls
whether or not it is collecting costs — the warm-up chunk, other threads — so its call counts
are not the counted messages'; the bench counts allocations per mode itself.)
"""
import re
import sys
from collections import defaultdict

OWNERS = [
    ("harness", ("tracewire_bench::count", "tracewire::traced::Traced<F>")),
    ("peer", ("tracewire_bench::peer",)),
    ("tracewire", ("tracewire",)),
    ("propagator", ("opentelemetry_sdk::propagation", "opentelemetry::trace_context",
                    "TextMapPropagator")),
    ("opentelemetry", ("opentelemetry",)),
    ("client", ("rdkafka", "rd_", "async_nats", "lapin", "amq_protocol", "tokio", "bytes::",
                "pinky_swear", "flume")),
]
FILE_OWNERS = [
    ("peer", ("crates/tracewire-bench/src/peer/",)),
    ("harness", ("crates/tracewire-bench/", "crates/tracewire/src/traced.rs")),
    ("tracewire", ("crates/tracewire",)),
    ("propagator", ("/propagation/trace_context.rs", "/src/trace_context.rs")),
    ("opentelemetry", ("/opentelemetry",)),
    ("client", ("/rdkafka", "/librdkafka/", "/async-nats-", "/lapin-", "/amq-protocol",
                "/tokio-", "/bytes-", "/pinky-swear-", "/flume-")),
]
COLUMNS = [name for name, _ in OWNERS] + ["unowned"]


def owner(function):
    """The owner of a function by its name, or None for shared code (allocator, libc, std)."""
    for name, marks in OWNERS:
        if any(m in function for m in marks):
            return name
    return None


def file_owner(path):
    """The owner of a source file, or None (std, libc, shared crates, no line tables)."""
    for name, marks in FILE_OWNERS:
        if any(m in path for m in marks):
            return name
    return None


def load(path):
    """Self cost per (function, owner of its line's file, or None), and the inclusive cost of
    each call edge (caller, callee, owner of the call site's file, or None)."""
    names, files = {}, {}
    self_cost, edges = defaultdict(int), defaultdict(int)
    current = callee = None
    here = None  # the owner of the file the next cost lines are in
    in_call = False

    def named(table, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if not m:
            return rest
        if m.group(2):
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "")

    with open(path) as f:
        for line in f:
            key, _, rest = line.rstrip("\n").partition("=")
            if key in ("fl", "fi", "fe"):
                here = file_owner(named(files, rest))
            elif key in ("cfi", "cfl"):
                named(files, rest)
            elif key == "fn":
                current = named(names, rest)
            elif key == "cfn":
                callee = named(names, rest)
            elif key == "calls":
                in_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                if in_call:
                    edges[(current, callee, here)] += cost
                    in_call = False
                else:
                    self_cost[(current, here)] += cost
    return self_cost, edges


def attribute(self_cost, edges):
    callers = defaultdict(list)
    for (caller, callee, site), cost in edges.items():
        if caller != callee:
            callers[callee].append((caller, site, cost))
    shares, busy = {}, set()

    def share(function):
        """How a cost in `function` divides between owners."""
        if function in shares:
            return shares[function]
        own = owner(function)
        if own:
            return {own: 1.0}
        if function in busy:  # recursion: this path adds nothing
            return {}
        busy.add(function)
        total = sum(cost for _, _, cost in callers[function])
        result = defaultdict(float)
        for caller, site, cost in callers[function]:
            # A call from a line of an owned file (code inlined into another crate's function)
            # is that file owner's, as its instructions are.
            if total:
                for o, s in ({site: 1.0} if site else share(caller)).items():
                    result[o] += s * cost / total
        busy.discard(function)
        shares[function] = dict(result) or {"unowned": 1.0}
        return shares[function]

    instructions, calls = defaultdict(float), defaultdict(float)
    for (function, here), cost in self_cost.items():
        for o, s in ({here: 1.0} if here else share(function)).items():
            instructions[o] += s * cost
            calls[(o, function)] += s * cost
    return instructions, calls


def main():
    args = sys.argv[1:]
    detail = args[1] if args[:1] == ["--calls"] else None
    args = args[2:] if detail else args
    n, paths = float(args[0]), args[1:]
    head = "".join(f"{c:>14}" for c in COLUMNS)
    print(f"{'instructions a message':<40}{'total':>8}{head}")
    for path in paths:
        instructions, calls = attribute(*load(path))
        total = sum(instructions.values()) / n
        row = "".join(f"{instructions.get(c, 0) / n:>14,.0f}" for c in COLUMNS)
        print(f"{path:<40}{total:>8,.0f}{row}")
        if detail:
            mine = sorted(((c, f) for (o, f), c in calls.items() if o == detail), reverse=True)
            for cost, function in mine[:30]:
                if cost / n >= 1:
                    print(f"    {cost / n:>8,.0f}  {function[:110]}")


if __name__ == "__main__":
    main()
