#!/usr/bin/env bash
# Run every chat-bench scenario at full size, three times each (medians), against chat-server
# and, for fanout, chat and idle, the socket.io peer too. Writes a table and JSON per scenario
# into bench/results/<date>/. Takes about 20 minutes on the 2-core reference machine.
set -euo pipefail
cd "$(dirname "$0")/.."

./bench/peers/socketio/install.sh
cargo build --release --locked -p chat-bench
out="bench/results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"
bench=target/release/chat-bench

run() {
    local name="$1"
    shift
    echo "== $name: chat-bench $*" >&2
    "$bench" "$@" --runs 3 --json-out "$out/$name.json" | tee "$out/$name.txt"
}

run fanout fanout --server both
run ingest ingest
run chat chat --server both
run idle idle --server both
run history history
run storm storm
run search search
run http-send http-send
