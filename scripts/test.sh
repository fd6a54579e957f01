#!/usr/bin/env bash
# Run every test on a fresh machine: installs what the tests need, then runs the whole suite.
# The Python example bot's test needs the `websockets` package; it goes into ./.venv.
# chat-bench's smoke test needs Node.js and the socket.io peer's npm packages. The Autobahn
# conformance run needs the kosoku package (tests/reliability/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r examples/python/requirements.txt
export CHAT_PYTHON="$PWD/.venv/bin/python"

# chat-bench's smoke test compares against the socket.io peer, which is installed from npm.
./bench/peers/socketio/install.sh

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-features --locked "$@" 2>&1 | tee "$log"
# WebSocket conformance (the Autobahn cases; RELIABILITY.md): kosoku from PyPI into ./.venv.
tests/reliability/autobahn.sh 2>&1 | tee -a "$log"
# One total for the whole run (cargo prints a result line per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "total: %d passed, %d failed\n", p, f }' "$log"
