"""Hypercorn settings that the contract depends on.

* Frames over ``max_frame`` bytes close the connection with 1009 (Hypercorn's
  ``websocket_max_message_size``).
* Liveness: Hypercorn pings every WebSocket each ``ping_interval``; a
  connection that sent no byte at all (no frame, no pong) for ``idle_timeout``
  is closed (``read_timeout``). Pongs never reach the ASGI app, so this is the
  one layer that can see them.
* No compression: Hypercorn offers permessage-deflate to any client that asks,
  and a small compressed frame can inflate to many megabytes before the size
  limit is checked. :func:`decline_compression` replaces the extension that
  Hypercorn's handshake offers with one that declines every offer, so the
  handshake never negotiates it and RSV1 frames are refused as protocol errors.
* Access log off by default; when on, its format holds the path without the
  query string, because ``?token=`` carries a credential.
"""

from __future__ import annotations

import logging

from hypercorn.config import Config as HyperConfig
from hypercorn.protocol import ws_stream
from wsproto.extensions import PerMessageDeflate

from web.config import Config

ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate that accepts no offer and so stays disabled."""

    def accept(self, offer: str) -> None:
        return None


def decline_compression() -> None:
    if not hasattr(ws_stream, "PerMessageDeflate"):
        raise RuntimeError(
            "this Hypercorn version no longer offers permessage-deflate the way web.hypercorn_setup "
            "expects; check how it negotiates compression before upgrading"
        )
    ws_stream.PerMessageDeflate = _DeclinedDeflate


def hypercorn_config(config: Config, *, port: int | None = None) -> HyperConfig:
    decline_compression()
    hc = HyperConfig()
    hc.bind = [f"{config.host}:{config.port if port is None else port}"]
    hc.websocket_max_message_size = config.max_frame
    hc.websocket_ping_interval = config.ping_interval
    hc.read_timeout = config.idle_timeout  # type: ignore[assignment]
    hc.graceful_timeout = 2.0
    hc.errorlog = logging.getLogger("hypercorn.error")
    if config.access_log:
        hc.accesslog = logging.getLogger("hypercorn.access")
        hc.access_log_format = ACCESS_LOG_FORMAT
    else:
        hc.accesslog = None
    return hc
