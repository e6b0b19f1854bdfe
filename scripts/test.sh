#!/usr/bin/env bash
# Set up a virtual environment (first run only) and run the whole test suite:
# the Trio tests on SQLite, the browser test, then the storage-backed tests
# again on MariaDB and on PostgreSQL. They run as separate processes: Tortoise
# caches dialect-specific SQL on the model classes, so one process cannot talk
# to two databases, and Playwright's asyncio loop must not share a process
# with the Trio tests. The cluster tests (servers over MariaDB or PostgreSQL
# and Redis, processes behind HAProxy) run last, one process per database.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv || exit 1
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,dev]" || exit 1
echo "ruff and mypy --strict over actors/, storage/, web/, wire/, transport/, cluster/"
.venv/bin/ruff check actors storage web wire transport cluster || exit 1
.venv/bin/mypy || exit 1
.venv/bin/python -m pytest -m "not mariadb and not postgres and not browser and not cluster" "$@"
sqlite_status=$?
.venv/bin/python -m pytest -m browser "$@"
browser_status=$?
[ "$browser_status" -eq 5 ] && browser_status=0
.venv/bin/python -m pytest -m "mariadb and not cluster" "$@"
mariadb_status=$?
[ "$mariadb_status" -eq 5 ] && mariadb_status=0  # no test selected (filtered out by the caller's arguments)
.venv/bin/python -m pytest -m "postgres and not cluster" "$@"
postgres_status=$?
[ "$postgres_status" -eq 5 ] && postgres_status=0
.venv/bin/python -m pytest -m "cluster and mariadb" "$@"
cluster_status=$?
[ "$cluster_status" -eq 5 ] && cluster_status=0
.venv/bin/python -m pytest -m "cluster and postgres" "$@"
cluster_pg_status=$?
[ "$cluster_pg_status" -eq 5 ] && cluster_pg_status=0
[ "$sqlite_status" -eq 5 ] && sqlite_status=0
exit $(( sqlite_status || browser_status || mariadb_status || postgres_status || cluster_status || cluster_pg_status ))
