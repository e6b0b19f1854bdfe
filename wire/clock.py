"""The clock of the contract: milliseconds since the Unix epoch, UTC (message and notice timestamps)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
