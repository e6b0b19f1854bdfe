#!/usr/bin/env bash
# One command for the whole benchmark: bench/run.sh [python -m bench options]
# Creates (once) the bench-only venv .venv-bench with bench/requirements.txt, installs
# our server into the project's .venv (it is started from .venv/bin/chat-server), then
# runs every scenario against ours, the python-socketio peer and the reference.
# bench/run.sh --cluster [python -m bench.cluster options] runs the cluster mode's
# figures instead (MariaDB, Redis and HAProxy must be on the machine; BENCHMARKS.md).
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
# Our server runs from the project's own venv, exactly as scripts/serve.sh installs it.
[ -x "$root/.venv/bin/python" ] || python3 -m venv "$root/.venv"
"$root/.venv/bin/pip" install --quiet --disable-pip-version-check -e "$root"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$root"
if [ "${1:-}" = --cluster ]; then
    shift
    exec "$venv/bin/python" -m bench.cluster "$@"
fi
exec "$venv/bin/python" -m bench "$@"
