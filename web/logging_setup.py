"""Log formatting for operators: JSON lines for machines, text for terminals.

Supervision events (``actors.logs``) carry ``actor``, ``event``, ``parent`` and
``reason``; both formatters print them as fields. Nothing here ever sees a
token: the WebSocket adapter strips query strings before anything is logged,
and Hypercorn's access log (off by default) uses a format without them.

Third-party loggers that print what passes through them at DEBUG are held at
INFO (or the configured level, if higher) whatever ``logging.level`` says, so
that turning on debug logging for our own code never writes a credential or
a message to the log. See :data:`HELD_AT_INFO`.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_FIELDS = ("actor", "event", "parent", "reason")

HELD_AT_INFO = (
    "hpack",  # each decoded HTTP/2 header, ``authorization: Bearer ...`` included
    "h2",  # each frame and stream event, once h2 is given a logger (Hypercorn gives none today)
    "h11",  # logs nothing today; held so that an upgrade cannot start printing requests
    "tortoise",  # tortoise.db_client: each SQL statement with its values (password hashes, messages)
    "aiosqlite",  # each call into sqlite3 with its arguments: the same values again
    "asyncmy",  # nothing below INFO today; its opt-in statement echo (``echo`` in the URL) is INFO
    "asyncio",  # peer addresses, name lookups and loop internals, under trio-asyncio
    "trio_asyncio",  # nothing below INFO today; the bridge every query crosses
    "quart",  # nothing below INFO today (our app logs as ``web.app``); requests pass through it
    "hypercorn.access",  # INFO lines only, without query strings; held so DEBUG never adds any
)
"""Loggers (and their children) that never go below INFO: what each prints at DEBUG."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "event", None) is not None:
            record.msg = "actor=%s event=%s parent=%s reason=%r"
            record.args = (record.actor, record.event, record.parent, record.reason)  # type: ignore[attr-defined]
        return super().format(record)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Hypercorn's and Quart's own loggers go through the same handler, once.
    for name in ("hypercorn.error", "hypercorn.access", "quart.app", "quart.serving"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    held = max(logging.getLevelName(level.upper()), logging.INFO)
    for name in HELD_AT_INFO:
        logging.getLogger(name).setLevel(held)
