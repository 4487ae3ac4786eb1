#!/usr/bin/env bash
# Counts the instructions of every tracewire-bench row, one mode at a time, under callgrind
# (`tracewire-bench --count`, see crates/tracewire-bench/src/count.rs), about 1,000 messages a
# row, then prints each row's instructions per message and who spends them: by the function's
# crate (callgrind-owners.py: the allocator and std apart), then charged to whose code asked
# (callgrind-attribute.py: tracewire, the peer, OpenTelemetry's propagator, the rest of
# OpenTelemetry, the client). Line tables let code inlined across crates count for its own:
#
#   scripts/brokers.sh
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p tracewire-bench
#   scripts/count-rows.sh [OUT_DIR] [MODE…]       # default: target/count-rows; the five modes
#   ROWS="kafka-consume jetstream-consume" scripts/count-rows.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/count-rows}
shift || true
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(raw-headers unsampled peer-unsampled batch peer-batch)
bin=${BIN:-target/release/tracewire-bench}
declare -A chunk=([kafka-produce]=20000 [kafka-consume]=20000 [nats-publish]=20000
  [nats-subscribe]=10000 [amqp-publish]=4000 [amqp-publish-confirms]=2000 [amqp-consume]=2000
  [jetstream-publish]=2000 [jetstream-consume]=2000)
rows=${ROWS:-"kafka-produce kafka-consume nats-publish nats-subscribe amqp-publish amqp-publish-confirms amqp-consume jetstream-publish jetstream-consume"}
mkdir -p "$out"
for row in $rows; do
  scale=$(python3 -c "print(1000 / ${chunk[$row]})")
  for mode in "${modes[@]}"; do
    valgrind --tool=callgrind --toggle-collect='*Counted*' --dump-instr=yes \
      --callgrind-out-file="$out/$row.$mode.out" \
      "$bin" "$row" --count "$mode" --rounds 1 --chunks 1 --scale "$scale" \
      >"$out/$row.$mode.log" 2>&1
  done
  profiles=$(for m in "${modes[@]}"; do echo "$out/$row.$m.out"; done)
  python3 scripts/callgrind-owners.py 1000 $profiles | sed "s|$out/||"
  python3 scripts/callgrind-attribute.py 1000 $profiles | sed "s|$out/||"
done
