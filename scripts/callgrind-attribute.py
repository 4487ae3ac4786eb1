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
proportion to what each caller spent in them, until they reach code with an owner. Where the
profile has instruction addresses (`--dump-instr=yes`, as count-rows.sh runs it), an
instruction or call in the binary goes to the innermost frame of its inline chain that has an
owner (llvm-symbolizer): std's `Box::new` inlined into OpenTelemetry's `Context::with_span`
inlined into tracewire's function is OpenTelemetry's. The owners:

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
import shutil
import subprocess
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


# The bench's counting allocator, and where it is installed as the global allocator.
COUNTING_ALLOCATOR = ("crates/tracewire-bench/src/alloc.rs", "crates/tracewire-bench/src/main.rs")
# The allocator's entry points: the bench's counting allocator is inlined into them, and is
# shared code all the same, charged to whoever allocated.
SHARED_FUNCTIONS = ("__rustc::__rust_",)


def file_owner(path):
    """The owner of a source file, or None (std, libc, shared crates, no line tables)."""
    for name, marks in FILE_OWNERS:
        if any(m in path for m in marks):
            return name
    return None


def load(path):
    """Self cost per (function, owner of its line's file or None, instruction address or None),
    and the inclusive cost of each call edge (caller, callee, owner of the call site's file or
    None, the call's address or None). Addresses are kept for the profiled binary's own code
    when the profile has them (`--dump-instr=yes`): their inline chains decide the owner."""
    names, files, objects = {}, {}, {}
    self_cost, edges = defaultdict(int), defaultdict(int)
    current = callee = None
    here = None  # the owner of the file the next cost lines are in
    in_call = False
    with_addresses, binary, in_binary, address = False, None, False, 0

    def named(table, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if not m:
            return rest
        if m.group(2):
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "")

    def position(field, last):
        if field == "*":
            return last
        if field[0] in "+-":
            return last + int(field, 0)
        return int(field, 0)

    with open(path) as f:
        for line in f:
            key, _, rest = line.rstrip("\n").partition("=")
            if line.startswith("positions:"):
                with_addresses = "instr" in line
            elif line.startswith("cmd:"):
                binary = line.split()[1]
            elif key == "ob":
                in_binary = named(objects, rest) == binary
            elif key == "cob":
                named(objects, rest)
            elif key in ("fl", "fi", "fe"):
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
                at = None
                if with_addresses:
                    address = position(fields[0], address)
                    fields = fields[1:]
                    at = address if in_binary else None
                cost = int(fields[1]) if len(fields) > 1 else 0
                site = (here, at)
                if any(m in current for m in SHARED_FUNCTIONS):
                    site = (None, None)
                if in_call:
                    edges[(current, callee, *site)] += cost
                    in_call = False
                else:
                    self_cost[(current, *site)] += cost
    return self_cost, edges, binary


def inline_owners(binary, addresses):
    """The owner of each address: the innermost frame of its inline chain whose source file has
    one (std's `Box::new` inlined into OpenTelemetry's `Context::with_span` inlined into
    tracewire's function is OpenTelemetry's), by llvm-symbolizer; None where no frame has one."""
    addresses = sorted(addresses)
    if not addresses or not shutil.which("llvm-symbolizer"):
        return {}
    query = "".join(f"0x{a:x}\n" for a in addresses)
    out = subprocess.run(
        ["llvm-symbolizer", f"--obj={binary}", "--functions=none", "--inlining"],
        input=query, capture_output=True, text=True, check=True,
    ).stdout
    owners = {}
    for a, chain in zip(addresses, out.split("\n\n")):
        frames = [frame for frame in chain.split("\n") if frame]
        # The bench's counting allocator (alloc.rs, installed in main.rs) is inlined into every
        # allocation: not an owner.
        allocator = [i for i, f in enumerate(frames) if COUNTING_ALLOCATOR[0] in f]
        if allocator:
            after = allocator[-1] + 1
            skip = after + (after < len(frames) and COUNTING_ALLOCATOR[1] in frames[after])
            frames = frames[skip:]
        owners[a] = next((o for o in map(file_owner, frames) if o), None)
    return owners


def attribute(self_cost, edges, binary):
    addresses = {a for *_, a in self_cost} | {a for *_, a in edges}
    owners = inline_owners(binary, addresses - {None})

    def site_owner(here, address):
        """Whose code an instruction or a call is, by where it sits; None: by its function."""
        return owners.get(address) or here

    callers = defaultdict(list)
    for (caller, callee, here, address), cost in edges.items():
        if caller != callee:
            callers[callee].append((caller, site_owner(here, address), cost))
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
    for (function, here, address), cost in self_cost.items():
        site = site_owner(here, address)
        for o, s in ({site: 1.0} if site else share(function)).items():
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
