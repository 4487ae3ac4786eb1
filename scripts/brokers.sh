#!/usr/bin/env bash
# Brings up the brokers tracewire's demo and tests need, on a machine without Docker:
#   RabbitMQ (127.0.0.1:5672), NATS with JetStream (127.0.0.1:4222), and tansu, a
#   Kafka-protocol broker (127.0.0.1:9092). Idempotent: what runs is left alone, what is
#   stopped is started, what is missing is installed (Debian packages; tansu from crates.io).
#
#   scripts/brokers.sh                 # all three
#   scripts/brokers.sh kafka nats      # only these
#   scripts/brokers.sh --stop-kafka    # stop the tansu this script started
#
# With a Docker engine, `docker compose up -d` (docker-compose.yml) is the other way.
set -euo pipefail

TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
STATE_DIR="${TRACEWIRE_BROKER_DIR:-${TMPDIR:-/tmp}/tracewire-brokers}"
mkdir -p "$STATE_DIR"

log() { printf 'brokers: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  for _ in $(seq 1 "$(( $2 * 4 ))"); do
    port_open "$1" && return 0
    sleep 0.25
  done
  log "$3 did not open 127.0.0.1:$1 within $2 s"
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing $* from Debian packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

rabbitmq() {
  if port_open 5672; then log "rabbitmq: up on 5672"; return; fi
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  log "rabbitmq: starting"
  as_root rabbitmq-server -detached
  wait_port 5672 120 rabbitmq
  log "rabbitmq: up on 5672"
}

nats() {
  if port_open 4222; then log "nats: up on 4222"; return; fi
  command -v nats-server >/dev/null || apt_install nats-server
  log "nats: starting (JetStream on)"
  mkdir -p "$STATE_DIR/nats"
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd "$STATE_DIR/nats" -l "$STATE_DIR/nats.log"
  wait_port 4222 30 nats
  log "nats: up on 4222"
}

kafka() {
  if port_open 9092; then log "kafka: up on 9092"; return; fi
  export PATH="$HOME/.cargo/bin:$PATH"
  if ! command -v tansu >/dev/null; then
    log "kafka: installing tansu $TANSU_VERSION from crates.io (about 11 min on 2 cores, once)"
    cargo install --locked tansu --version "$TANSU_VERSION" --features dynostore
  fi
  log "kafka: starting tansu (memory storage)"
  nohup tansu broker \
    --listener-url tcp://127.0.0.1:9092 \
    --advertised-listener-url tcp://127.0.0.1:9092 \
    --storage-engine memory://tansu/ >"$STATE_DIR/tansu.log" 2>&1 &
  echo $! >"$STATE_DIR/tansu.pid"
  wait_port 9092 60 tansu
  log "kafka: up on 9092 (tansu, pid $(cat "$STATE_DIR/tansu.pid"))"
}

stop_kafka() {
  if [ -f "$STATE_DIR/tansu.pid" ]; then
    kill "$(cat "$STATE_DIR/tansu.pid")" 2>/dev/null || true
    rm -f "$STATE_DIR/tansu.pid"
  fi
}

[ "$#" -gt 0 ] || set -- kafka rabbitmq nats
for broker in "$@"; do
  case "$broker" in
    kafka) kafka ;;
    rabbitmq) rabbitmq ;;
    nats) nats ;;
    --stop-kafka) stop_kafka ;;
    *) log "unknown broker '$broker' (kafka, rabbitmq, nats)"; exit 2 ;;
  esac
done
