#!/usr/bin/env bash
# One command for the whole benchmark: bench/run.sh [python -m bench options]
# Creates (once) the bench-only venv .venv-bench with bench/requirements.txt, checks
# that our server's own venv exists (it is started from .venv/bin/chat-server), then
# runs every scenario against ours, the python-socketio peer and the reference.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-bench"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha"
want="$(sha256sum "$root/bench/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -r "$root/bench/requirements.txt"
    echo "$want" > "$stamp"
fi
if [ ! -x "$root/.venv/bin/chat-server" ]; then
    echo "note: $root/.venv/bin/chat-server not found; install the server with" >&2
    echo "      python3 -m venv .venv && .venv/bin/pip install -e .   (ours is skipped)" >&2
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$root"
exec "$venv/bin/python" -m bench "$@"
