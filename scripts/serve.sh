#!/usr/bin/env bash
# Set up a virtual environment (first run only) and start the server on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/chat-server "$@"
