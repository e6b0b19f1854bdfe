"""Configuration: ``config.toml``, then environment variables, then validation.

Every setting has one line in :data:`SETTINGS`: where it lives in the TOML
file, the environment variable that overrides it (if any), how to parse it and
what it must satisfy. An invalid value is a :class:`ConfigError` whose message
names the key, the source and what is expected; ``chat-server`` prints it as
one line and exits with status 2. The value itself is echoed too, except for
secrets: the JWT secret is never shown, a database URL only with its password
replaced by ``***`` (a parser's ``shown`` attribute says how).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web.client_address import Network
from web.config_values import (
    choice,
    db_url,
    flag,
    integer,
    networks,
    optional_port,
    origins,
    public_origin,
    redis_url,
    seconds,
    secret,
    text,
)
from web.validation import room_name_problem

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


class ConfigError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class RoomSeed:
    room_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    metrics_port: int | None = None
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    public_origin: str | None = None
    access_log: bool = False
    data_dir: Path = Path("data")
    db_url: str = "sqlite://data/chat.sqlite3"
    jwt_secret: str | None = None
    jwt_issuer: str = "chat-server"
    token_ttl: int = 86400
    page_token_ttl: int = 900
    """A web page's token (it renews from its HttpOnly refresh cookie): at most ``token_ttl``."""
    max_session_days: float = 30.0
    password_workers: int = 2
    password_queue: int = 64
    max_content: int = 4000
    max_frame: int = 65536
    max_fragments: int = 128
    session_outbox: int = 1024
    room_mailbox: int = 1024
    registry_mailbox: int = 4096
    delivery_queue: int = 4096
    rooms_per_user: int = 50
    blocks_per_user: int = 1000
    room_idle_seconds: float = 300.0
    leave_grace: float = 5.0
    edit_window: float = 900.0
    """Seconds after sending a room message during which its sender may edit it; 0: no edits."""
    recovery_messages: int = 500
    redis_url: str | None = None
    redis_namespace: str = "chat"
    journal_pending: int = 16384
    ping_interval: float = 20.0
    idle_timeout: float = 60.0
    max_restarts: int = 3
    restart_period: float = 10.0
    log_level: str = "INFO"
    log_format: str = "text"
    rate_limit_enabled: bool = True
    login_failures: int = 10
    login_failures_per_address: int = 50
    login_failures_per_user: int = 100
    login_user_window: float = 900.0
    register_attempts: int = 20
    room_creations: int = 5
    user_lookups: int = 60
    block_changes: int = 60
    message_changes: int = 60
    """Edits and deletes of room messages one account may make per window: each is a write in its room's loop."""
    session_refreshes: int = 60
    rate_window: float = 60.0
    ws_frame_rate: float = 20.0
    ws_frame_burst: int = 60
    ws_bytes_per_second: float = 32 * 1024
    ws_byte_burst: int = 128 * 1024
    shutdown_timeout: float = 8.0
    rooms: tuple[RoomSeed, ...] = field(default=(RoomSeed("lobby", "Lobby"),))
    rooms_owner: str | None = None
    """The username that owns the configured rooms; None: site administrators act as their owner."""
    deactivation_check: float = 2.0
    """Seconds between two looks for accounts deactivated while the server runs."""


# attribute, TOML path, environment variable, parser
SETTINGS: list[tuple[str, str, str | None, Callable[[Any], Any]]] = [
    ("host", "server.host", "CHAT_HOST", text),
    ("port", "server.port", "CHAT_PORT", integer(0, 65535)),
    ("metrics_port", "server.metrics_port", "CHAT_METRICS_PORT", optional_port),
    ("allowed_origins", "server.allowed_origins", "CHAT_ALLOWED_ORIGINS", origins),
    ("trusted_proxies", "server.trusted_proxies", "CHAT_TRUSTED_PROXIES", networks),
    ("public_origin", "server.public_origin", "CHAT_PUBLIC_ORIGIN", public_origin),
    ("access_log", "server.access_log", "CHAT_ACCESS_LOG", flag),
    ("shutdown_timeout", "server.shutdown_timeout", None, seconds(1, 60)),
    ("data_dir", "storage.data_dir", "CHAT_DATA_DIR", lambda v: Path(text(v))),
    ("db_url", "storage.db_url", "CHAT_DB_URL", db_url),
    ("journal_pending", "storage.journal_pending", None, integer(16, 1_000_000)),
    ("jwt_secret", "auth.jwt_secret", "CHAT_JWT_SECRET", secret),
    ("jwt_issuer", "auth.issuer", None, text),
    ("token_ttl", "auth.token_ttl", "CHAT_TOKEN_TTL", integer(60, 31 * 86400)),
    ("page_token_ttl", "auth.page_token_ttl", "CHAT_PAGE_TOKEN_TTL", integer(10, 31 * 86400)),
    ("max_session_days", "auth.max_session_days", None, seconds(0.001, 3650)),
    ("password_workers", "auth.password_workers", None, integer(1, 64)),
    ("password_queue", "auth.password_queue", None, integer(1, 100_000)),
    ("max_content", "limits.max_content_chars", "CHAT_MAX_CONTENT", integer(1, 1_000_000)),
    ("max_frame", "limits.max_frame_bytes", "CHAT_MAX_FRAME", integer(1024, 16 * 1024 * 1024)),
    ("max_fragments", "limits.max_fragments", None, integer(1, 1_000_000)),
    ("session_outbox", "limits.session_outbox", "CHAT_SESSION_OUTBOX", integer(1, 1_000_000)),
    ("room_mailbox", "limits.room_mailbox", None, integer(1, 1_000_000)),
    ("registry_mailbox", "limits.registry_mailbox", None, integer(1, 1_000_000)),
    ("delivery_queue", "limits.delivery_queue", None, integer(1, 1_000_000)),
    ("rooms_per_user", "limits.rooms_per_user", None, integer(0, 1_000_000)),
    ("blocks_per_user", "limits.blocks_per_user", None, integer(0, 100_000)),
    ("room_idle_seconds", "limits.room_idle_seconds", None, seconds(0.01, 7 * 86400)),
    ("leave_grace", "limits.leave_grace_seconds", "CHAT_LEAVE_GRACE", seconds(0, 60)),
    ("recovery_messages", "limits.recovery_messages", None, integer(1, 10_000)),
    ("edit_window", "limits.edit_window_seconds", "CHAT_EDIT_WINDOW", seconds(0, 366 * 86400)),
    ("redis_url", "cluster.redis_url", "CHAT_REDIS_URL", redis_url),
    ("redis_namespace", "cluster.namespace", "CHAT_REDIS_NAMESPACE", text),
    ("ping_interval", "liveness.ping_interval", "CHAT_PING_INTERVAL", seconds(0.05, 3600)),
    ("idle_timeout", "liveness.idle_timeout", "CHAT_IDLE_TIMEOUT", seconds(0.1, 86400)),
    ("max_restarts", "supervision.max_restarts", None, integer(0, 1000)),
    ("restart_period", "supervision.period", None, seconds(0.001, 86400)),
    (
        "log_level",
        "logging.level",
        "CHAT_LOG_LEVEL",
        lambda v: choice("debug", "info", "warning", "error", "critical")(v).upper(),
    ),
    ("log_format", "logging.format", "CHAT_LOG_FORMAT", choice("json", "text")),
    ("rate_limit_enabled", "rate_limit.enabled", "CHAT_RATE_LIMIT", flag),
    ("login_failures", "rate_limit.login_failures", None, integer(1, 1_000_000)),
    ("login_failures_per_address", "rate_limit.login_failures_per_address", None, integer(1, 1_000_000)),
    ("login_failures_per_user", "rate_limit.login_failures_per_user", None, integer(1, 1_000_000)),
    ("login_user_window", "rate_limit.login_user_window", None, seconds(1, 7 * 86400)),
    ("register_attempts", "rate_limit.register_attempts", None, integer(1, 1_000_000)),
    ("room_creations", "rate_limit.room_creations", None, integer(1, 1_000_000)),
    ("user_lookups", "rate_limit.user_lookups", None, integer(1, 1_000_000)),
    ("block_changes", "rate_limit.block_changes", None, integer(1, 1_000_000)),
    ("message_changes", "rate_limit.message_changes", None, integer(1, 1_000_000)),
    ("session_refreshes", "rate_limit.session_refreshes", None, integer(1, 1_000_000)),
    ("rate_window", "rate_limit.window", None, seconds(1, 86400)),
    ("ws_frame_rate", "rate_limit.ws_frames_per_second", None, seconds(0.001, 1_000_000)),
    ("ws_frame_burst", "rate_limit.ws_frame_burst", None, integer(1, 1_000_000)),
    ("ws_bytes_per_second", "rate_limit.ws_bytes_per_second", None, seconds(1, 1e12)),
    ("ws_byte_burst", "rate_limit.ws_byte_burst", None, integer(1, 1 << 40)),
    ("rooms_owner", "moderation.rooms_owner", "CHAT_ROOMS_OWNER", text),
    ("deactivation_check", "moderation.deactivation_check", None, seconds(0.05, 3600)),
]

_EXPECTED_LEVEL = "one of debug, info, warning, error, critical"


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _rooms(data: Mapping[str, Any]) -> tuple[RoomSeed, ...]:
    raw = data.get("rooms")
    if raw is None:
        return (RoomSeed("lobby", "Lobby"),)
    if not isinstance(raw, list):
        raise ConfigError("config error: rooms: expected [[rooms]] tables with id and name")
    seeds = []
    for i, item in enumerate(raw):
        rid, name = (item.get("id"), item.get("name")) if isinstance(item, dict) else (None, None)
        if not (
            isinstance(rid, str)
            and 0 < len(rid) <= 64
            and isinstance(name, str)
            and name.strip()
            and len(name) <= 64
        ):
            raise ConfigError(
                f"config error: rooms[{i}]: expected id (1..64 characters) and name (1..64 characters, not blank)"
            )
        problem = room_name_problem(name)  # the rule POST /rooms applies
        if problem is not None:
            raise ConfigError(f"config error: rooms[{i}]: {problem}")
        seeds.append(RoomSeed(rid, name))
    return tuple(seeds)


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (default: the repository's config.toml), apply the environment."""
    environ = os.environ if environ is None else environ
    source = path or DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if path is not None or source.exists():
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"config error: {source}: no such file; pass --config with an existing path"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config error: {source}: not valid TOML ({exc})") from None
    values: dict[str, Any] = {}
    for attr, dotted, env, parse in SETTINGS:
        raw, where = _lookup(data, dotted), f"{dotted} in {source.name}"
        if env is not None and env in environ:
            raw, where = environ[env], f"{dotted} (from {env})"
        if raw is None:
            continue
        try:
            values[attr] = parse(raw)
        except (ValueError, TypeError):
            expected = getattr(parse, "expected", _EXPECTED_LEVEL)
            shown = getattr(parse, "shown", repr)(raw)
            raise ConfigError(f"config error: {where}: expected {expected}, got {shown}") from None
    values["rooms"] = _rooms(data)
    defaults = Config()
    if "db_url" not in values:
        values["db_url"] = f"sqlite://{values.get('data_dir', defaults.data_dir)}/chat.sqlite3"
    if values.get("redis_url") and str(values.get("db_url", "sqlite")).startswith("sqlite"):
        raise ConfigError(
            "config error: cluster.redis_url: the cluster mode needs a database every process can reach "
            "(mysql:// or postgres:// in storage.db_url); SQLite is a file one process owns"
        )
    if values.get("ws_byte_burst", defaults.ws_byte_burst) < values.get("max_frame", defaults.max_frame):
        raise ConfigError(
            "config error: rate_limit.ws_byte_burst: expected at least limits.max_frame_bytes, "
            "or the largest message allowed could never be sent"
        )
    if values.get("ping_interval", defaults.ping_interval) >= values.get(
        "idle_timeout", defaults.idle_timeout
    ):
        raise ConfigError("config error: liveness.ping_interval: expected less than liveness.idle_timeout")
    return Config(**values)
