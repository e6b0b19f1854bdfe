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
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from web.client_address import Network, parse_networks
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
    room_idle_seconds: float = 300.0
    recovery_messages: int = 500
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
    rate_window: float = 60.0
    ws_frame_rate: float = 20.0
    ws_frame_burst: int = 60
    ws_bytes_per_second: float = 32 * 1024
    ws_byte_burst: int = 128 * 1024
    shutdown_timeout: float = 8.0
    rooms: tuple[RoomSeed, ...] = field(default=(RoomSeed("lobby", "Lobby"),))


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if not lo <= number <= hi:
            raise ValueError
        return number

    parse.expected = f"an integer from {lo} to {hi}"  # type: ignore[attr-defined]
    return parse


def _float(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if not lo <= number <= hi:
            raise ValueError
        return number

    parse.expected = f"a number of seconds from {lo:g} to {hi:g}"  # type: ignore[attr-defined]
    return parse


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            raise ValueError
        return value.lower()

    parse.expected = "one of " + ", ".join(options)  # type: ignore[attr-defined]
    return parse


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError
    return value


_text.expected = "a non-empty string"  # type: ignore[attr-defined]


_SERVER_SCHEMES = ("mysql://", "postgres://", "postgresql://")


def _db_url(value: Any) -> str:
    """A SQLite path, or a database server's URL naming its database (Tortoise's schemes).

    The database is required: without it MariaDB has nowhere to create the
    tables, and PostgreSQL would quietly use the one named after the user.
    The host part is what follows the last ``@``, as in :func:`_without_password`.
    """
    if not isinstance(value, str) or not value.startswith(("sqlite://", *_SERVER_SCHEMES)):
        raise ValueError
    if value.startswith(_SERVER_SCHEMES):
        database = value.partition("://")[2].rpartition("@")[2].partition("/")[2]
        if not re.split(r"[?#]", database, maxsplit=1)[0]:
            raise ValueError
    return value


_db_url.expected = (  # type: ignore[attr-defined]
    "a URL starting with sqlite://, mysql:// or postgres:// (postgresql://); "
    "a server's URL names the database, as in postgres://user:pass@host:5432/db"
)


def _without_password(value: Any) -> str:
    """A database URL as given, with the password of its user part and any ``password=`` replaced.

    Everything between ``://`` and the last ``@`` is taken as the user part,
    so a password holding ``/`` or ``@`` is hidden whole; hiding too much is
    the safe way to be wrong.
    """
    if not isinstance(value, str):
        return f"a value of type {type(value).__name__}"
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = userinfo.split(":", 1)[0] + ":***@" + host
    return repr(scheme + sep + re.sub(r"(?i)(pass(?:word|wd)?=)[^&#]*", r"\1***", rest))


_db_url.shown = _without_password  # type: ignore[attr-defined]


def _secret(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value.encode()) < 32:
        raise ValueError
    return value


_secret.expected = "at least 32 bytes (or empty to generate one in the data directory)"  # type: ignore[attr-defined]
_secret.shown = lambda value: (  # type: ignore[attr-defined]
    f"{len(value.encode())} bytes (the value is not shown)"
    if isinstance(value, str)
    else f"a value of type {type(value).__name__}"
)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise ValueError


_flag.expected = "true or false"  # type: ignore[attr-defined]


def _origins(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    return tuple(v.rstrip("/") for v in value)


_origins.expected = "a list of origins such as https://chat.example.org"  # type: ignore[attr-defined]


def _public_origin(value: Any) -> str | None:
    """``scheme://host[:port]`` as a browser writes it: lower case, without a default port or a path."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError
    parts = urlsplit(value.strip())
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError
    scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port  # .port raises ValueError
    host = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


_public_origin.expected = "an origin such as https://chat.example.org (scheme, host and port only)"  # type: ignore[attr-defined]


def _networks(value: Any) -> tuple[Network, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    return parse_networks(value)


_networks.expected = "a list of addresses or CIDR blocks such as 10.0.0.0/8"  # type: ignore[attr-defined]


def _optional_port(value: Any) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    return _int(1, 65535)(value)


_optional_port.expected = "a port from 1 to 65535, or 0 to serve /metrics on the main port"  # type: ignore[attr-defined]

# attribute, TOML path, environment variable, parser
SETTINGS: list[tuple[str, str, str | None, Callable[[Any], Any]]] = [
    ("host", "server.host", "CHAT_HOST", _text),
    ("port", "server.port", "CHAT_PORT", _int(0, 65535)),
    ("metrics_port", "server.metrics_port", "CHAT_METRICS_PORT", _optional_port),
    ("allowed_origins", "server.allowed_origins", "CHAT_ALLOWED_ORIGINS", _origins),
    ("trusted_proxies", "server.trusted_proxies", "CHAT_TRUSTED_PROXIES", _networks),
    ("public_origin", "server.public_origin", "CHAT_PUBLIC_ORIGIN", _public_origin),
    ("access_log", "server.access_log", "CHAT_ACCESS_LOG", _flag),
    ("shutdown_timeout", "server.shutdown_timeout", None, _float(1, 60)),
    ("data_dir", "storage.data_dir", "CHAT_DATA_DIR", lambda v: Path(_text(v))),
    ("db_url", "storage.db_url", "CHAT_DB_URL", _db_url),
    ("journal_pending", "storage.journal_pending", None, _int(16, 1_000_000)),
    ("jwt_secret", "auth.jwt_secret", "CHAT_JWT_SECRET", _secret),
    ("jwt_issuer", "auth.issuer", None, _text),
    ("token_ttl", "auth.token_ttl", "CHAT_TOKEN_TTL", _int(60, 31 * 86400)),
    ("max_session_days", "auth.max_session_days", None, _float(0.001, 3650)),
    ("password_workers", "auth.password_workers", None, _int(1, 64)),
    ("password_queue", "auth.password_queue", None, _int(1, 100_000)),
    ("max_content", "limits.max_content_chars", "CHAT_MAX_CONTENT", _int(1, 1_000_000)),
    ("max_frame", "limits.max_frame_bytes", "CHAT_MAX_FRAME", _int(1024, 16 * 1024 * 1024)),
    ("max_fragments", "limits.max_fragments", None, _int(1, 1_000_000)),
    ("session_outbox", "limits.session_outbox", "CHAT_SESSION_OUTBOX", _int(1, 1_000_000)),
    ("room_mailbox", "limits.room_mailbox", None, _int(1, 1_000_000)),
    ("registry_mailbox", "limits.registry_mailbox", None, _int(1, 1_000_000)),
    ("delivery_queue", "limits.delivery_queue", None, _int(1, 1_000_000)),
    ("rooms_per_user", "limits.rooms_per_user", None, _int(0, 1_000_000)),
    ("room_idle_seconds", "limits.room_idle_seconds", None, _float(0.01, 7 * 86400)),
    ("recovery_messages", "limits.recovery_messages", None, _int(1, 10_000)),
    ("ping_interval", "liveness.ping_interval", "CHAT_PING_INTERVAL", _float(0.05, 3600)),
    ("idle_timeout", "liveness.idle_timeout", "CHAT_IDLE_TIMEOUT", _float(0.1, 86400)),
    ("max_restarts", "supervision.max_restarts", None, _int(0, 1000)),
    ("restart_period", "supervision.period", None, _float(0.001, 86400)),
    (
        "log_level",
        "logging.level",
        "CHAT_LOG_LEVEL",
        lambda v: _choice("debug", "info", "warning", "error", "critical")(v).upper(),
    ),
    ("log_format", "logging.format", "CHAT_LOG_FORMAT", _choice("json", "text")),
    ("rate_limit_enabled", "rate_limit.enabled", "CHAT_RATE_LIMIT", _flag),
    ("login_failures", "rate_limit.login_failures", None, _int(1, 1_000_000)),
    ("login_failures_per_address", "rate_limit.login_failures_per_address", None, _int(1, 1_000_000)),
    ("login_failures_per_user", "rate_limit.login_failures_per_user", None, _int(1, 1_000_000)),
    ("login_user_window", "rate_limit.login_user_window", None, _float(1, 7 * 86400)),
    ("register_attempts", "rate_limit.register_attempts", None, _int(1, 1_000_000)),
    ("room_creations", "rate_limit.room_creations", None, _int(1, 1_000_000)),
    ("rate_window", "rate_limit.window", None, _float(1, 86400)),
    ("ws_frame_rate", "rate_limit.ws_frames_per_second", None, _float(0.001, 1_000_000)),
    ("ws_frame_burst", "rate_limit.ws_frame_burst", None, _int(1, 1_000_000)),
    ("ws_bytes_per_second", "rate_limit.ws_bytes_per_second", None, _float(1, 1e12)),
    ("ws_byte_burst", "rate_limit.ws_byte_burst", None, _int(1, 1 << 40)),
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
