"""Log formatting for operators: JSON lines for machines, text for terminals.

Supervision events (``actors.logs``) carry ``actor``, ``event``, ``parent`` and
``reason``; both formatters print them as fields. Nothing here ever sees a
token: the WebSocket adapter strips query strings before anything is logged,
and Hypercorn's access log (off by default) uses a format without them.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_FIELDS = ("actor", "event", "parent", "reason")


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
