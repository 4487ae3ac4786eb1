#!/usr/bin/env python3
"""Instructions per message in callgrind profiles, by who spends them.

    callgrind-owners.py MESSAGES PROFILE...

Self instructions of every function, grouped by owner: tracewire's crates, the bench's peer
(its code), OpenTelemetry, the broker client and its runtime, the allocator and libc's memory
functions, and std/core (generic code anyone may have called). Then the functions whose
count differs most between the profiles.
"""
import re
import subprocess
import sys

OWNERS = [
    ("bench", lambda f: "tracewire_bench" in f),
    ("tracewire", lambda f: "tracewire" in f),
    ("opentelemetry", lambda f: "opentelemetry" in f),
    ("client", lambda f: any(c in f for c in ("rdkafka", "rd_", "async_nats", "lapin",
                                               "amq_protocol", "tokio", "bytes::"))),
    ("allocator", lambda f: any(c in f for c in ("malloc", "free", "memcpy", "memmove",
                                                  "memset", "memcmp", "_int_", "realloc",
                                                  "unlink_chunk", "__rust", "calloc"))),
]


def owner(function):
    return next((name for name, test in OWNERS if test(function)), "std")


def load(path):
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    total, costs = 0, {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if not m:
            continue
        cost, name = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in name:
            total = cost
            continue
        name = name.split(" [")[0]
        # "file:function" (the file is ??? without line tables; a path with them)
        name = re.sub(r"^(\?\?\?|\.?/[^:]*):", "", name)
        costs[name] = costs.get(name, 0) + cost
    return total, costs


def main():
    n, paths = float(sys.argv[1]), sys.argv[2:]
    profiles = [load(p) for p in paths]
    owners = ["tracewire", "bench", "opentelemetry", "client", "allocator", "std"]
    print(f"{'per message':<40}{'total':>8}" + "".join(f"{o:>14}" for o in owners))
    for path, (total, costs) in zip(paths, profiles):
        by = {o: 0.0 for o in owners}
        for name, cost in costs.items():
            by[owner(name)] += cost / n
        print(f"{path:<40}{total / n:>8,.0f}" + "".join(f"{by[o]:>14,.0f}" for o in owners))
    names = set().union(*(c for _, c in profiles))
    rows = sorted(((max(v) - min(v), k, v) for k in names
                   for v in [[c.get(k, 0) / n for _, c in profiles]]), reverse=True)
    for spread, name, values in rows[:12]:
        if spread >= 20:
            print("  " + "".join(f"{v:>8,.0f}" for v in values) + "  " + name[:110])
    print()


if __name__ == "__main__":
    main()
