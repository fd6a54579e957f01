#!/usr/bin/env bash
# Install the socket.io peer's packages (socket.io 4.8, pinned by package-lock.json) from npm.
# chat-bench --server socketio|both needs this once; the CI smoke run calls it too.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install.sh: Node.js and npm are needed for the socket.io peer" >&2
  exit 1
fi
if [ -d node_modules/socket.io ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
