#!/usr/bin/env bash
# The reliability suite in one command (RELIABILITY.md lists each test, its pass criterion and
# its latest figures).
#
#   tests/reliability/run.sh          the short form, as CI runs it (debug build, ~1 minute)
#   tests/reliability/run.sh --long   the long form (release build, 25 SIGKILL rounds, bigger
#                                     floods, 2,000 fuzz cases per target; ~10 minutes)
#
# Every test prints its figures; the summary lines are repeated at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=()
bin=target/debug/chat-server
if [ "${1:-}" = "--long" ]; then
    export CHAT_KILL_ROUNDS=25 CHAT_KILL_WRITERS=8
    export CHAT_ABUSE_LOGINS=1000 CHAT_ABUSE_REGISTRATIONS=300 CHAT_ABUSE_CONNECTIONS=3000
    export CHAT_ABUSE_NON_READERS=31 CHAT_CUT_MESSAGES=1000 PROPTEST_CASES=2000
    profile=(--release)
    bin=target/release/chat-server
elif [ -n "${1:-}" ]; then
    echo "usage: $0 [--long]" >&2
    exit 2
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo build --locked "${profile[@]}" -p chat-server
cargo test --locked "${profile[@]}" -p chat-server --test reliability -- --nocapture 2>&1 | tee "$log"
cargo test --locked "${profile[@]}" -p chat-protocol --test fuzz_frames 2>&1 | tee -a "$log"
tests/reliability/autobahn.sh "$bin" 2>&1 | tee -a "$log"

echo
echo "== reliability figures =="
grep -E '^(sigkill|memory under abuse|stalled reader|cut connections|fuzz|autobahn):|^test result' "$log"
