#!/usr/bin/env bash
# Run every test on a fresh machine: installs what the tests need, then runs the whole suite.
# The Python example bot's test needs the `websockets` package; it goes into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r examples/python/requirements.txt
export CHAT_PYTHON="$PWD/.venv/bin/python"

cargo test --workspace --all-features --locked "$@"
