"""Turn raw scenario results into the side-by-side table (Markdown) and a JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any

# (label, scenario key, metric, format, higher_is_better)
ROWS: list[tuple[str, str, str, str, bool]] = [
    ("fan-out 100 members: deliveries/s", "fanout100", "deliveries_per_s", "{:,.0f}", True),
    ("fan-out 100: lost", "fanout100", "lost", "{:,}", False),
    ("fan-out 100: server CPU us/delivery", "fanout100", "server_cpu_us_per_delivery",
     "{:.2f}", False),
    ("fan-out 1000 members: deliveries/s", "fanout1000", "deliveries_per_s", "{:,.0f}", True),
    ("fan-out 1000: lost", "fanout1000", "lost", "{:,}", False),
    ("fan-out 1000: server CPU us/delivery", "fanout1000", "server_cpu_us_per_delivery",
     "{:.2f}", False),
    ("chatty: messages/s sent", "chatty", "msgs_per_s", "{:,.0f}", True),
    ("chatty: p50 latency ms", "chatty", "p50_ms", "{:.1f}", False),
    ("chatty: p90 latency ms", "chatty", "p90_ms", "{:.1f}", False),
    ("chatty: p99 latency ms", "chatty", "p99_ms", "{:.1f}", False),
    ("chatty: lost (acked, not delivered)", "chatty", "lost", "{:,}", False),
    ("chatty: messages acked", "chatty", "messages_acked", "{:,}", True),
    ("chatty: order violations", "chatty", "order_violations", "{:,}", False),
    ("idle: connections held", "idle", "still_open", "{:,}", True),
    ("idle: KiB RSS per connection", "idle", "kib_per_connection", "{:.1f}", False),
    ("persistence: acks/s (SQLite)", "persist", "acks_per_s", "{:,.0f}", True),
    ("persistence: acked but not in history", "persist",
     "rooms_with_acked_message_missing_from_history", "{}", False),
]


def machine() -> dict[str, Any]:
    """The machine facts BENCHMARKS.md must state."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {"nproc": os.cpu_count(), "cpu": model, "mem_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release()}


def _cell(results: dict[str, Any], target: str, key: str, metric: str, fmt: str) -> str:
    value = results.get(target, {}).get(key, {}).get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _ratio(results: dict[str, Any], key: str, metric: str) -> str:
    ours = results.get("ours", {}).get(key, {}).get(metric)
    peer = results.get("peer", {}).get(key, {}).get(metric)
    if not isinstance(ours, int | float) or not isinstance(peer, int | float) or peer == 0:
        return "-"
    return f"{ours / peer:.2f}"


def table(results: dict[str, Any]) -> str:
    """Markdown table: ours, peer, ours/peer, reference."""
    lines = ["| metric | ours | peer (python-socketio) | ours / peer | reference |",
             "|---|---:|---:|---:|---:|"]
    for label, key, metric, fmt, higher in ROWS:
        if not any(key in results.get(t, {}) for t in ("ours", "peer", "reference")):
            continue
        hint = "" if higher else " (lower is better)"
        if metric in ("lost", "order_violations", "still_open") or "missing" in metric:
            hint = ""
        lines.append(f"| {label}{hint} | {_cell(results, 'ours', key, metric, fmt)} | "
                     f"{_cell(results, 'peer', key, metric, fmt)} | "
                     f"{_ratio(results, key, metric)} | "
                     f"{_cell(results, 'reference', key, metric, fmt)} |")
    return "\n".join(lines)


def save(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
