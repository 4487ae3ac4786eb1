#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each; FUZZ_SECONDS to change) and
# prints executions and findings. Not part of CI. Needs cargo-fuzz (installed if missing) and
# builds on the stable toolchain with RUSTC_BOOTSTRAP=1. The corpus is kept in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH" RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
seconds="${FUZZ_SECONDS:-60}"
targets="${*:-traceparent tracestate baggage correlation_id propagator amqp_field_table nats_headers kafka_headers}"
for t in $targets; do
  mkdir -p "corpus/$t"
  log="$(mktemp)"
  if cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=1024 >"$log" 2>&1; then
    result=ok
  else
    result="FINDING (see fuzz/artifacts/$t)"
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  printf '%-18s %8s s  %12s executions  %s\n' "$t" "$seconds" "${execs:-?}" "$result"
  rm -f "$log"
done
