#!/usr/bin/env bash
# Set up a virtual environment (first run only) and run the whole test suite:
# the Trio tests on SQLite, the browser tests, then the storage-backed tests
# again on MariaDB and on PostgreSQL, then the cluster tests (servers over
# MariaDB or PostgreSQL and Redis, processes behind HAProxy).
#
# They run as separate pytest processes: Tortoise caches dialect-specific SQL
# on the model classes, so one process cannot talk to two databases, and
# Playwright's asyncio loop must not share a process with the Trio tests.
# Two of them run at a time; a line tells when each ends, and every report is
# printed whole at the end, so that two reports never interleave.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv || exit 1
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,dev]" || exit 1
failed=0
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

echo "ruff and mypy --strict over actors/, storage/, web/, wire/, transport/, cluster/"
.venv/bin/ruff check actors storage web wire transport cluster || exit 1
# mypy takes a core for a quarter of a minute: it runs beside the tests, and its verdict counts at the end.
.venv/bin/mypy >"$logs/mypy.log" 2>&1 &
mypy_pid=$!

# pytest's exit status 5 means "no test selected" (the caller's -k or -m filtered them all out).
settle() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ] || failed=1; }

run() {  # run NAME MARKERS [pytest args]: one pytest process, its output kept for the report
  local name="$1" markers="$2" started=$SECONDS
  shift 2
  .venv/bin/python -m pytest -m "$markers" "$@" >"$logs/$name.log" 2>&1
  echo $? >"$logs/$name.status"
  echo "-- $name done in $((SECONDS - started)) s ($(tail -n 1 "$logs/$name.log"))"
}

# Two lanes, one per core, each running its stages one after another, the
# longest first. Much of every stage waits on a database, a browser or a
# process it started, so two at a time finish in about half the time.
# Measured at the last balancing (fresh clone, this machine): PostgreSQL 223 s,
# cluster on MariaDB 110 s, SQLite 162 s; browser 236 s, cluster on
# PostgreSQL 142 s, MariaDB 110 s: about 495 s a lane.
(
  run "PostgreSQL" "postgres and not cluster" "$@"
  run "cluster on MariaDB" "cluster and mariadb" "$@"
  run "SQLite" "not mariadb and not postgres and not browser and not cluster" "$@"
) &
lane_a=$!
(
  run "browser" "browser" "$@"
  run "cluster on PostgreSQL" "cluster and postgres" "$@"
  run "MariaDB" "mariadb and not cluster" "$@"
) &
lane_b=$!
wait "$lane_a" "$lane_b"
wait "$mypy_pid"
mypy_status=$?
cat "$logs/mypy.log"
settle "$mypy_status"

for name in "SQLite" "browser" "MariaDB" "PostgreSQL" "cluster on MariaDB" "cluster on PostgreSQL"; do
  echo "== $name"
  cat "$logs/$name.log"
  settle "$(cat "$logs/$name.status" 2>/dev/null || echo 1)"
done
exit "$failed"
