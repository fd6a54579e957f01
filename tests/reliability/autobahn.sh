#!/usr/bin/env bash
# WebSocket conformance: the Autobahn test cases (run by kosoku, from PyPI) against a
# chat-server started with its hidden --conformance-echo endpoint, which echoes text messages
# through the real session code. The results must match autobahn-expected.json.
# Usage: tests/reliability/autobahn.sh [path/to/chat-server]
# (default: target/debug/chat-server, or under $CARGO_TARGET_DIR when that is set)
set -euo pipefail
cd "$(dirname "$0")/../.."

server_bin="${1:-${CARGO_TARGET_DIR:-target}/debug/chat-server}"
if [ ! -x "$server_bin" ]; then
    cargo build --locked -p chat-server
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/reliability/requirements.txt

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$server_bin" --db "$work/echo.sqlite" --listen "127.0.0.1:$port" --conformance-echo 2>"$work/server.log" &
server_pid=$!
started=""
for _ in $(seq 100); do
    if .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
        started=1
        break
    fi
    sleep 0.1
done
if [ -z "$started" ]; then
    echo "autobahn: $server_bin did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

# kosoku exits non-zero when any case fails; the refusals by design are failures to it, so
# its verdict is replaced by the comparison with the expectations.
.venv/bin/kosoku "ws://127.0.0.1:$port" --parallelism 4 --outdir "$work/report" >"$work/kosoku.log" 2>&1 || true
.venv/bin/python tests/reliability/autobahn_check.py "$work/report" tests/reliability/autobahn-expected.json
