#!/usr/bin/env bash
# Installs the command-line tools the tests use, from Debian's packages, when missing:
#   kcat      — produces Kafka messages with hand-written headers (tracewire-kafka tests)
#   chromium  — opens the CLI's HTML waterfall headless (tracewire-cli tests)
set -euo pipefail

missing=()
command -v kcat >/dev/null || missing+=(kcat)
command -v chromium >/dev/null || missing+=(chromium)
[ "${#missing[@]}" -eq 0 ] && { echo "tools: kcat and chromium present" >&2; exit 0; }

echo "tools: installing ${missing[*]} from Debian packages" >&2
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
