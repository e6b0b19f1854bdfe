"""Run the scenarios against each target in turn, one server process per target.

Order per target: start the server (unpinned, so account setup's argon2 work can use
both cores), make every account the run needs once, then idle capacity, fan-out,
chatty rooms and persistence, each on a freshly restarted server process (same
database, same JWT secret, so accounts and tokens carry over). The server is pinned
to its core just before each measurement. The reference only runs fan-out (it exists to show the generator's
ceiling); persistence only runs on ours (the peer stores nothing).
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import accounts as api
from bench.config import RunConfig
from bench.scenarios import chatty, fanout, idle, persist
from bench.targets import Target, make_target

SCENARIOS_OF = {
    "reference": ("fanout",),
    "peer": ("idle", "fanout", "chatty"),
    "ours": ("idle", "fanout", "chatty", "persist"),
}


def _accounts_needed(cfg: RunConfig, scenarios: tuple[str, ...]) -> int:
    need = 1
    if "fanout" in scenarios:
        need = max(need, *cfg.fanout_members)
    if "chatty" in scenarios:
        need = max(need, cfg.chatty_users)
    if "idle" in scenarios:
        need = max(need, cfg.idle_connections)
    if "persist" in scenarios:
        need = max(need, cfg.persist_senders)
    return need


async def _restart(target: Target, log: Any) -> None:
    """A fresh server process for every measurement, same database and JWT secret.

    Both servers were measurably slower in a scenario that followed the 5000-socket
    idle run (a bigger heap to walk for every garbage collection), so each
    measurement starts from a clean process; accounts and tokens stay valid.
    """
    if target.has_http_api:
        token = (await target.accounts(1))[0].token
        with contextlib.suppress(Exception):
            online = await api.online_count(target.base_url, token)
            if online:
                log(f"[{target.name}] {online} users still online before restart")
    code = target.server.stop()
    if code not in (0, -15):
        log(f"[{target.name}] exit code {code} at restart")
    target.server.start()
    await target.server.wait_ready()


async def run_target(name: str, cfg: RunConfig, rundir: Path,
                     log: Any = print) -> dict[str, Any]:
    """All selected scenarios against one target; a failing scenario is recorded."""
    target = make_target(name, rundir)
    if target is None:
        log(f"[{name}] not available on this checkout (no web/server.py yet): skipped")
        return {"skipped": "server not available"}
    if name == "ours":
        target.server.env.setdefault("CHAT_JWT_SECRET", secrets.token_hex(32))
    scenarios = tuple(s for s in SCENARIOS_OF[name] if s in cfg.scenarios)
    out: dict[str, Any] = {}
    target.server.start()
    try:
        await target.server.wait_ready()
        need = _accounts_needed(cfg, scenarios)
        log(f"[{name}] ready (pid {target.server.pid}); preparing {need} accounts")
        await target.accounts(need)
        if target.has_http_api:
            s = target.setup
            out["setup"] = {"users": s.users, "seconds": round(s.seconds, 1),
                            "users_per_s": s.users / max(s.seconds, 1e-9),
                            "rate_limited_responses": s.rate_limited}
            log(f"[{name}] {s.users} users registered+logged in in {s.seconds:.1f}s "
                f"({s.rate_limited} x 429)")
        measured = 0
        for scenario in scenarios:
            runs: list[tuple[str, Any]] = []
            if scenario == "fanout":
                runs = [(f"fanout{m}", fanout.drive(target, cfg, m))
                        for m in cfg.fanout_members]
            elif scenario == "chatty":
                runs = [("chatty", chatty.drive(target, cfg))]
            elif scenario == "idle":
                runs = [("idle", idle.drive(target, cfg))]
            elif scenario == "persist":
                runs = [("persist", persist.drive(target, cfg))]
            for key, coro in runs:
                if not target.server.alive():
                    coro.close()
                    out[key] = {"error": "server process died"}
                    continue
                if measured:
                    await _restart(target, log)
                measured += 1
                started = time.monotonic()
                try:
                    out[key] = await coro
                except Exception as exc:
                    out[key] = {"error": f"{type(exc).__name__}: {exc}"}
                    log(traceback.format_exc())
                log(f"[{name}] {key} ({time.monotonic() - started:.0f}s): {out[key]}")
    finally:
        code = target.server.stop()
        out["exit_code"] = code
        tail = target.server.log_tail(15)
        if tail:
            out["log_tail"] = tail
    return out


async def run_all(cfg: RunConfig, log: Any = print) -> dict[str, Any]:
    """Every selected target, in the order given; servers never overlap."""
    rundir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    results: dict[str, Any] = {}
    for name in cfg.targets:
        results[name] = await run_target(name, cfg, rundir, log)
    results["_rundir"] = str(rundir)
    return results
