"""`python -m bench.cluster`: the cluster mode's figures, beside one process on the same database.

    bash bench/run.sh --cluster [options]      # installs what it needs, then runs this

Two deployments are opened side by side, each on a fresh MariaDB database:
**single** (one `chat-server`, no Redis) and **cluster** (`scripts/cluster.sh 2`:
two processes sharing the database and a Redis namespace of their own, HAProxy
round robin in front). Then every scenario runs on each in turn, the order of the
two alternating from one scenario to the next:

- fan-out to 100 and to 1000 members, members split evenly over the processes
  (straight to each process's port), the sender on the first: servers' CPU per
  delivery summed over every process, Redis's CPU per message and per delivery;
- chatty rooms through the front door (HAProxy for the cluster): losses, the
  room-order checks, p50/p90/p99 latency;
- persistence: acknowledged (stored) messages per second on MariaDB.

It prints a table (single, cluster, cluster / single) and writes every raw figure to
bench/results/<tag>.json and the table to <tag>.md. A missing service (MariaDB,
Redis, HAProxy) is named and the run exits with status 3 before starting anything.
Every process it starts is stopped at the end, on errors and on Ctrl-C too; the
databases are dropped and the Redis namespaces' keys deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import report
from bench.config import RunConfig
from bench.deployment import Deployment, close_all
from bench.scenarios import cluster_chatty, cluster_fanout, cluster_persist
from bench.services import DEFAULT_MARIADB, DEFAULT_REDIS, MariaDB, missing_services
from bench.worker import raise_fd_limit

RESULTS = Path(__file__).resolve().parent / "results"
MISSING_SERVICE = 3


def _cpus(text: str) -> frozenset[int] | None:
    return None if text == "none" else frozenset(int(c) for c in text.split(","))


def parse_args(argv: list[str]) -> tuple[RunConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    p.add_argument("--modes", default="single,cluster", help="comma list of single, cluster")
    p.add_argument("--processes", type=int, default=2, help="processes of the cluster")
    p.add_argument("--scenarios", default="fanout,chatty,persist")
    p.add_argument("--fanout-members", default=None, help="e.g. 100,1000")
    p.add_argument("--chatty-users", type=int, default=None, help="users (rooms of 10), default 1000")
    p.add_argument(
        "--chatty-rates",
        default="1,0.5",
        help="messages/s per user, one chatty measurement each (default 1 then 0.5)",
    )
    p.add_argument("--chatty-seconds", type=float, default=None)
    p.add_argument("--server-cpus", default="0", help="cores of every chat-server, or 'none'")
    p.add_argument("--gen-cpus", default="1", help="cores of the generator, or 'none'")
    p.add_argument("--gen-workers", type=int, default=1, help="generator processes")
    p.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (a namespace of its own is used)")
    p.add_argument("--mariadb", default=DEFAULT_MARIADB, help="MariaDB server URL, without a database")
    p.add_argument("--tag", default="cluster", help="name of the results files")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy every chat-server during each measurement (bench/results/profile-cluster/)",
    )
    args = p.parse_args(argv)
    cfg = RunConfig()
    if args.quick:
        cfg = replace(cfg.quick(), chatty_users=200)
    cfg = replace(
        cfg,
        scenarios=tuple(args.scenarios.split(",")),
        server_cpus=_cpus(args.server_cpus),
        gen_cpus=_cpus(args.gen_cpus),
        gen_workers=args.gen_workers,
    )
    if args.fanout_members:
        cfg = replace(cfg, fanout_members=tuple(int(m) for m in args.fanout_members.split(",")))
    if args.chatty_users:
        cfg = replace(cfg, chatty_users=args.chatty_users)
    args.chatty_rates = [float(r) for r in args.chatty_rates.split(",")]
    cfg = replace(cfg, chatty_rate=args.chatty_rates[0])
    if args.chatty_seconds:
        cfg = replace(cfg, chatty_seconds=args.chatty_seconds)
    if args.profile:
        cfg = replace(cfg, profile_dir=str(RESULTS / "profile-cluster"))
    return cfg, args


def chatty_key(cfg: RunConfig, rate: float) -> str:
    """`chatty` for the main rate, `chatty@<rate>` for the others."""
    return "chatty" if rate == cfg.chatty_rate else f"chatty@{rate:g}"


def _runs(
    cfg: RunConfig, chatty_rates: list[float]
) -> list[tuple[str, Callable[[Deployment], Coroutine[Any, Any, dict[str, Any]]]]]:
    """(result key, driver) for every measurement, in order."""
    runs: list[tuple[str, Callable[[Deployment], Coroutine[Any, Any, dict[str, Any]]]]] = []
    for scenario in cfg.scenarios:
        if scenario == "fanout":
            for m in cfg.fanout_members:
                runs.append((f"fanout{m}", functools.partial(cluster_fanout.drive, cfg=cfg, members=m)))
        elif scenario == "chatty":
            for rate in chatty_rates:
                at_rate = replace(cfg, chatty_rate=rate)
                runs.append((chatty_key(cfg, rate), functools.partial(cluster_chatty.drive, cfg=at_rate)))
        elif scenario == "persist":
            runs.append(("persist", functools.partial(cluster_persist.drive, cfg=cfg)))
        else:
            raise SystemExit(f"unknown scenario {scenario!r} (fanout, chatty, persist)")
    return runs


def _accounts_needed(cfg: RunConfig) -> int:
    need = [1]
    if "fanout" in cfg.scenarios:
        need += cfg.fanout_members
    if "chatty" in cfg.scenarios:
        need.append(cfg.chatty_users)
    if "persist" in cfg.scenarios:
        need.append(cfg.persist_senders)
    return max(need)


async def run(cfg: RunConfig, args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """Open both deployments, run every measurement on each, close them; the raw figures."""
    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-cluster-"))
    mariadb = MariaDB(args.mariadb)
    modes = args.modes.split(",")
    results: dict[str, Any] = {"_rundir": str(workdir)}
    deployments: dict[str, Deployment] = {}
    try:
        for mode in modes:
            d = Deployment(
                mode, 1 if mode == "single" else args.processes, workdir / mode, mariadb, args.redis
            )
            deployments[mode] = d
            results[mode] = {"database": d.db_name, "redis_namespace": d.namespace if d.uses_redis else None}
            await d.open()
            log(
                f"[{mode}] up: {', '.join(f'{n.name} pid {n.pid} :{n.port}' for n in d.nodes)}"
                + (f"; haproxy pid {d.balancer.pid} :{d.balancer.port}" if d.balancer else "")
            )
            need = _accounts_needed(cfg)
            await d.accounts(need)
            results[mode]["setup"] = {"users": d.setup.users, "seconds": round(d.setup.seconds, 1)}
            log(f"[{mode}] {d.setup.users} users registered and logged in in {d.setup.seconds:.1f}s")
        for k, (key, driver) in enumerate(_runs(cfg, args.chatty_rates)):
            order = modes if k % 2 == 0 else modes[::-1]
            for mode in order:
                d = deployments[mode]
                if not d.alive():
                    results[mode][key] = {"error": "a server process died"}
                    log(f"[{mode}] {key}: a server process died\n{d.log_tail()}")
                    continue
                started = time.monotonic()
                try:
                    results[mode][key] = await driver(d)
                except Exception as exc:
                    results[mode][key] = {"error": f"{type(exc).__name__}: {exc}"}
                    log(traceback.format_exc())
                    log(d.log_tail())
                log(f"[{mode}] {key} ({time.monotonic() - started:.0f}s): {_brief(results[mode][key])}")
    finally:
        for mode, d in deployments.items():
            results[mode]["close"] = d.close()
            results[mode]["log_tail"] = d.log_tail(8)
    return results


def _brief(figures: dict[str, Any]) -> str:
    keys = (
        "error",
        "deliveries_per_s",
        "acks_per_s",
        "lost",
        "order_violations",
        "p99_ms",
        "server_cpu_us_per_delivery",
        "server_cpu_us_per_ack",
        "redis_cpu_us_per_message",
        "redis_cpu_us_per_ack",
        "sessions_per_process",
    )
    return ", ".join(f"{k}={_fmt(figures[k])}" for k in keys if k in figures)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


# (label, scenario key, metric, format, target on cluster/single or on the cluster's value)
Row = tuple[str, str, str, str, str]


def _rows(cfg: RunConfig, chatty_rates: list[float]) -> list[Row]:
    rows: list[Row] = []
    for m in cfg.fanout_members:
        k = f"fanout{m}"
        rows += [
            (f"fan-out {m}: deliveries/s", k, "deliveries_per_s", "{:,.0f}", ""),
            (f"fan-out {m}: lost", k, "lost", "{:,}", "0"),
            (
                f"fan-out {m}: server CPU µs/delivery (all processes)",
                k,
                "server_cpu_us_per_delivery",
                "{:.2f}",
                "ratio<=1.3",
            ),
            (f"fan-out {m}: server CPU, cores busy", k, "server_cpu_util", "{:.2f}", ""),
            (
                f"fan-out {m}: server threads waiting for a core, s per s",
                k,
                "server_runqueue_wait_share",
                "{:.2f}",
                "",
            ),
            (
                f"fan-out {m}: server write syscalls/delivery",
                k,
                "server_write_syscalls_per_delivery",
                "{:.3f}",
                "",
            ),
            (
                f"fan-out {m}: server read syscalls/message",
                k,
                "server_read_syscalls_per_message",
                "{:.2f}",
                "",
            ),
            (
                f"fan-out {m}: server threads given a core, per message",
                k,
                "server_runs_per_message",
                "{:.2f}",
                "",
            ),
            (f"fan-out {m}: Redis CPU µs/message", k, "redis_cpu_us_per_message", "{:.1f}", ""),
            (
                f"fan-out {m}: Redis CPU µs/message, idle rate taken off",
                k,
                "redis_net_cpu_us_per_message",
                "{:.1f}",
                "",
            ),
            (f"fan-out {m}: Redis CPU µs/delivery", k, "redis_cpu_us_per_delivery", "{:.3f}", ""),
            (f"fan-out {m}: Redis commands/message", k, "redis_commands_per_message", "{:.2f}", ""),
            (f"fan-out {m}: MariaDB CPU µs/message", k, "database_cpu_us_per_message", "{:.1f}", ""),
        ]
    for rate in chatty_rates:
        k = chatty_key(cfg, rate)
        c = f"chatty {cfg.chatty_users * rate:,.0f} msg/s"
        rows += [
            (f"{c}: messages acked", k, "messages_acked", "{:,}", ""),
            (f"{c}: lost (acked, not delivered)", k, "lost", "{:,}", "0"),
            (f"{c}: order violations (all kinds)", k, "order_violations", "{:,}", "0"),
            (f"{c}: p50 latency ms", k, "p50_ms", "{:.1f}", ""),
            (f"{c}: p90 latency ms", k, "p90_ms", "{:.1f}", ""),
            (f"{c}: p99 latency ms", k, "p99_ms", "{:.1f}", ""),
            (f"{c}: server CPU, cores busy", k, "server_cpu_util", "{:.2f}", ""),
            (
                f"{c}: server threads waiting for a core, s per s",
                k,
                "server_runqueue_wait_share",
                "{:.2f}",
                "",
            ),
            (f"{c}: server CPU µs/delivery (all processes)", k, "server_cpu_us_per_delivery", "{:.2f}", ""),
            (f"{c}: HAProxy CPU µs/delivery", k, "balancer_cpu_us_per_delivery", "{:.2f}", ""),
            (f"{c}: Redis CPU µs/message", k, "redis_cpu_us_per_message", "{:.1f}", ""),
            (f"{c}: Redis CPU µs/delivery", k, "redis_cpu_us_per_delivery", "{:.2f}", ""),
            (f"{c}: MariaDB CPU µs/message", k, "database_cpu_us_per_message", "{:.1f}", ""),
        ]
    k = "persist"
    rows += [
        ("persistence (MariaDB): acks/s", k, "acks_per_s", "{:,.0f}", ""),
        ("persistence: server CPU, cores busy", k, "server_cpu_util", "{:.2f}", ""),
        (
            "persistence: server threads waiting for a core, s per s",
            k,
            "server_runqueue_wait_share",
            "{:.2f}",
            "",
        ),
        ("persistence: server CPU µs/ack (all processes)", k, "server_cpu_us_per_ack", "{:.1f}", ""),
        ("persistence: Redis CPU µs/ack", k, "redis_cpu_us_per_ack", "{:.1f}", ""),
        ("persistence: MariaDB CPU µs/ack", k, "database_cpu_us_per_ack", "{:.1f}", ""),
        (
            "persistence: rooms missing an acked message",
            k,
            "rooms_with_acked_message_missing_from_history",
            "{}",
            "0",
        ),
    ]
    return rows


def _value(results: dict[str, Any], mode: str, key: str, metric: str) -> Any:
    value = results.get(mode, {}).get(key, {}).get(metric)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def table(results: dict[str, Any], cfg: RunConfig, processes: int, chatty_rates: list[float]) -> str:
    """Markdown: single, cluster, cluster / single, and whether the cluster meets the issue's target."""
    lines = [
        f"| metric | single process | cluster ({processes} processes) | cluster / single | target |",
        "|---|---:|---:|---:|---|",
    ]
    for label, key, metric, fmt, target in _rows(cfg, chatty_rates):
        single = _value(results, "single", key, metric)
        cluster = _value(results, "cluster", key, metric)
        if single is None and cluster is None:
            continue
        ratio = None
        if isinstance(single, int | float) and isinstance(cluster, int | float) and single:
            ratio = cluster / single
        verdict = ""
        if target == "ratio<=1.3" and ratio is not None:
            verdict = f"≤ 1.3: {'met' if ratio <= 1.3 else 'NOT met'}"
        elif target == "0" and cluster is not None:
            verdict = f"0: {'met' if cluster == 0 else 'NOT met'}"
        cells = ["-" if v is None else fmt.format(v) for v in (single, cluster)]
        no_ratio = ("lost", "order_violations", "server_runqueue_wait_share")
        ratio_cell = "-" if ratio is None or metric in no_ratio else f"{ratio:.2f}"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio_cell} | {verdict} |")
    return "\n".join(lines)


def _cores(cpus: frozenset[int] | None) -> str:
    return f"cores {sorted(cpus)}" if cpus else "any core (not pinned)"


def _stop_on_sigterm() -> None:
    """SIGTERM behaves as Ctrl-C, so the `finally` blocks stop every process."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    missing = missing_services(args.redis, MariaDB(args.mariadb), need_haproxy="cluster" in args.modes)
    if missing:
        for line in missing:
            print(f"bench.cluster: {line}", file=sys.stderr)
        print("bench.cluster: the cluster figures need every service above; nothing was run", file=sys.stderr)
        return MISSING_SERVICE
    raise_fd_limit()
    _stop_on_sigterm()
    log(f"machine: {report.machine()}")
    log(
        f"cpu split: every chat-server on {_cores(cfg.server_cpus)}, generator on "
        f"{_cores(cfg.gen_cpus)} x {cfg.gen_workers} process(es); Redis, MariaDB and HAProxy float"
    )
    try:
        results = asyncio.run(run(cfg, args, log))
    except KeyboardInterrupt:
        print("interrupted: every process of the run was stopped", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("bench.cluster: the run failed; every process of it was stopped", file=sys.stderr)
        return 1
    finally:
        close_all()
    results["_machine"] = report.machine()
    results["_config"] = {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in vars(cfg).items()}
    results["_args"] = vars(args)
    results["_seconds"] = round(time.monotonic() - started, 1)
    text = table(results, cfg, args.processes, args.chatty_rates)
    report.save(results, RESULTS / f"{args.tag}.json")
    (RESULTS / f"{args.tag}.md").write_text(text + "\n")
    print()
    print(text)
    print()
    print(f"raw figures: {RESULTS / (args.tag + '.json')}  ({results['_seconds']}s)")
    failed = [
        f"{mode} {key}"
        for mode in args.modes.split(",")
        for key, value in results.get(mode, {}).items()
        if isinstance(value, dict) and "error" in value
    ]
    if failed:
        print(f"failed measurements: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
