"""`python -m bench`: run every scenario against ours, the peer and the reference.

Prints progress, then the side-by-side table, and writes bench/results/latest.json
(all raw figures) and bench/results/latest.md (the table), which BENCHMARKS.md quotes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench import report
from bench.config import RunConfig
from bench.runner import run_all
from bench.worker import raise_fd_limit

RESULTS = Path(__file__).resolve().parent / "results"


def _cpus(text: str) -> frozenset[int] | None:
    return None if text == "none" else frozenset(int(c) for c in text.split(","))


def parse_args(argv: list[str]) -> tuple[RunConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    p.add_argument("--targets", default="reference,ours,peer",
                   help="comma list of reference, ours, peer")
    p.add_argument("--scenarios", default="fanout,chatty,idle,persist")
    p.add_argument("--fanout-members", default=None, help="e.g. 100,1000")
    p.add_argument("--server-cpus", default="0", help="cores for the server, or 'none'")
    p.add_argument("--gen-cpus", default="1", help="cores for the generator, or 'none'")
    p.add_argument("--gen-workers", type=int, default=1, help="generator processes")
    p.add_argument("--idle-connections", type=int, default=None)
    p.add_argument("--chatty-seconds", type=float, default=None)
    p.add_argument("--chatty-rate", type=float, default=None, help="messages/s per user")
    p.add_argument("--tag", default="latest", help="name of the results files")
    p.add_argument("--profile", action="store_true",
                   help="py-spy our server during fan-out and persistence (bench/results/profile/)")
    args = p.parse_args(argv)
    cfg = RunConfig()
    if args.quick:
        cfg = cfg.quick()
    cfg = replace(cfg, targets=tuple(args.targets.split(",")),
                  scenarios=tuple(args.scenarios.split(",")),
                  server_cpus=_cpus(args.server_cpus), gen_cpus=_cpus(args.gen_cpus),
                  gen_workers=args.gen_workers)
    if args.fanout_members:
        cfg = replace(cfg, fanout_members=tuple(int(m) for m in args.fanout_members.split(",")))
    if args.idle_connections:
        cfg = replace(cfg, idle_connections=args.idle_connections)
    if args.profile:
        cfg = replace(cfg, profile_dir=str(RESULTS / "profile"))
    if args.chatty_rate:
        cfg = replace(cfg, chatty_rate=args.chatty_rate)
    if args.chatty_seconds:
        cfg = replace(cfg, chatty_seconds=args.chatty_seconds)
    return cfg, args


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse_args(sys.argv[1:] if argv is None else argv)
    raise_fd_limit()
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    log(f"machine: {report.machine()}")
    log(f"cpu split: server on {sorted(cfg.server_cpus or [])}, generator on "
        f"{sorted(cfg.gen_cpus or [])} x {cfg.gen_workers} process(es)")
    results = asyncio.run(run_all(cfg, log))
    results["_machine"] = report.machine()
    results["_config"] = {k: (sorted(v) if isinstance(v, frozenset) else v)
                          for k, v in vars(cfg).items()}
    results["_seconds"] = round(time.monotonic() - started, 1)
    table = report.table(results)
    report.save(results, RESULTS / f"{args.tag}.json")
    (RESULTS / f"{args.tag}.md").write_text(table + "\n")
    print()
    print(table)
    print()
    for name in ("ours", "peer", "reference"):
        if name in results and isinstance(results[name], dict):
            extra = {k: v for k, v in results[name].items()
                     if k in ("setup", "exit_code", "skipped")}
            if extra:
                print(f"{name}: {json.dumps(extra)}")
    print(f"raw figures: {RESULTS / (args.tag + '.json')}  ({results['_seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
