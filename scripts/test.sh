#!/usr/bin/env bash
# Set up a virtual environment (first run only) and run the whole test suite:
# the Trio tests on SQLite, the browser tests, then the storage-backed tests
# again on MariaDB and on PostgreSQL, then the cluster tests (servers over
# MariaDB or PostgreSQL and Redis, processes behind HAProxy).
#
# They run as separate pytest processes: Tortoise caches dialect-specific SQL
# on the model classes, so one process cannot talk to two databases, and
# Playwright's asyncio loop must not share a process with the Trio tests.
# The MariaDB and PostgreSQL processes of each stage run side by side (they
# mostly wait on their database servers); each one's output is printed whole
# when it ends, so that two reports never interleave.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv || exit 1
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,dev]" || exit 1
echo "ruff and mypy --strict over actors/, storage/, web/, wire/, transport/, cluster/"
.venv/bin/ruff check actors storage web wire transport cluster || exit 1
.venv/bin/mypy || exit 1

failed=0
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# pytest's exit status 5 means "no test selected" (the caller's -k or -m filtered them all out).
settle() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ] || failed=1; }

stage() {  # stage TITLE MARKERS [pytest args]: one pytest process, its output straight to ours
  local title="$1" markers="$2"
  shift 2
  echo "== $title"
  .venv/bin/python -m pytest -m "$markers" "$@"
  settle $?
}

side_by_side() {  # side_by_side TITLE_A MARKERS_A TITLE_B MARKERS_B [pytest args]
  local title_a="$1" markers_a="$2" title_b="$3" markers_b="$4"
  shift 4
  echo "== $title_a and $title_b, side by side"
  .venv/bin/python -m pytest -m "$markers_a" "$@" >"$logs/a" 2>&1 &
  local pid_a=$!
  .venv/bin/python -m pytest -m "$markers_b" "$@" >"$logs/b" 2>&1 &
  local pid_b=$!
  wait "$pid_a"
  local status_a=$?
  wait "$pid_b"
  local status_b=$?
  echo "== $title_a"
  cat "$logs/a"
  echo "== $title_b"
  cat "$logs/b"
  settle "$status_a"
  settle "$status_b"
}

stage "SQLite" "not mariadb and not postgres and not browser and not cluster" "$@"
stage "browser" "browser" "$@"
side_by_side "MariaDB" "mariadb and not cluster" "PostgreSQL" "postgres and not cluster" "$@"
side_by_side "cluster on MariaDB" "cluster and mariadb" "cluster on PostgreSQL" "cluster and postgres" "$@"
exit "$failed"
