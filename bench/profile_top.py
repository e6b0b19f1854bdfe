"""Summarise a py-spy collapsed-stack profile: where does the server's time go?

py-spy's `--format raw` writes one line per distinct stack, `frame;frame;... count`.
This prints the functions with the most samples on top of the stack (self time) and
the most samples anywhere in the stack (inclusive time), as a share of the busy
samples and, given the CPU microseconds per delivery measured in the same run, as
microseconds per delivery, which is the unit BENCHMARKS.md reasons in.

Samples whose top frame is a worker thread parked on its queue or lock (aiosqlite's
connection thread in `tx.get()`, Trio's cached threads in `lock.acquire`) are
dropped: py-spy reports such blocked threads as busy, and counting them would make
a thread that does nothing look like the main cost.

Run: python -m bench.profile_top PROFILE.txt [--us-per-delivery 74] [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE_LEAVES = ("_connection_worker_thread (aiosqlite/core.py)",
               "WorkerThread._work (trio/_core/_thread_cache.py)")

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    """`func (path/to/pkg/mod.py:12)` -> `func (pkg/mod.py)`: lines merged, path cut."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    parts = path.split("/")
    if "site-packages" in parts:
        path = "/".join(parts[parts.index("site-packages") + 1 :])
    elif path.startswith("/"):
        path = "/".join(parts[-2:])
    return f"{m.group('func')} ({path})"


def summarise(text: str) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith("process ")
                  and not f.startswith("thread ")]
        if not frames or frames[-1] in IDLE_LEAVES:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    return total, own, anywhere


def render(path: Path, us_per_delivery: float | None, top: int) -> str:
    total, own, anywhere = summarise(path.read_text(errors="replace"))
    lines = [f"{total} busy samples in {path.name}"]
    for title, counter in (("self time", own), ("inclusive time", anywhere)):
        lines.append(f"\n{title}: share of samples" +
                     (", us per delivery" if us_per_delivery else ""))
        for func, n in counter.most_common(top):
            share = n / max(total, 1)
            cost = f"  {share * us_per_delivery:6.2f}" if us_per_delivery else ""
            lines.append(f"  {100 * share:5.1f}%{cost}  {func}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--us-per-delivery", type=float, default=None)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(render(args.profile, args.us_per_delivery, args.top))


if __name__ == "__main__":
    main()
