"""The Hypercorn configuration of the chat server (no patches here: :mod:`transport.hypercorn_patches`).

* **Timeouts.** Before the upgrade, Hypercorn's ``read_timeout`` (the idle
  timeout) bounds every read; after it, the transport applies the same
  timeout itself. Hypercorn's own ping task is off: pings come from
  :mod:`actors.heartbeat`.
* **Access log** off by default; when on, its format holds the path without
  the query string, because ``?token=`` carries a credential.
"""

from __future__ import annotations

import logging

from hypercorn.config import Config as HyperConfig

from web.config import Config

ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'


def hypercorn_config(config: Config, *, port: int | None = None) -> HyperConfig:
    hc = HyperConfig()
    hc.bind = [f"{config.host}:{config.port if port is None else port}"]
    hc.websocket_max_message_size = config.max_frame
    hc.websocket_ping_interval = None  # actors.heartbeat pings every session
    hc.read_timeout = config.idle_timeout  # type: ignore[assignment]
    hc.graceful_timeout = 2.0
    hc.errorlog = logging.getLogger("hypercorn.error")
    if config.access_log:
        hc.accesslog = logging.getLogger("hypercorn.access")
        hc.access_log_format = ACCESS_LOG_FORMAT
    else:
        hc.accesslog = None
    return hc
