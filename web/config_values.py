"""How each setting's value is read and checked (the parsers of :data:`web.config.SETTINGS`).

A parser takes the raw value (from TOML or an environment variable) and
returns it typed, or raises ValueError. Its ``expected`` attribute says in
words what it accepts (the error message quotes it), and ``shown``, when
present, how a refused value may be echoed: secrets never are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from web.client_address import Network, parse_networks


def integer(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if not lo <= number <= hi:
            raise ValueError
        return number

    parse.expected = f"an integer from {lo} to {hi}"  # type: ignore[attr-defined]
    return parse


def seconds(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if not lo <= number <= hi:
            raise ValueError
        return number

    parse.expected = f"a number of seconds from {lo:g} to {hi:g}"  # type: ignore[attr-defined]
    return parse


def choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            raise ValueError
        return value.lower()

    parse.expected = "one of " + ", ".join(options)  # type: ignore[attr-defined]
    return parse


def text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError
    return value


text.expected = "a non-empty string"  # type: ignore[attr-defined]


SERVER_SCHEMES = ("mysql://", "postgres://", "postgresql://")


def db_url(value: Any) -> str:
    """A SQLite path, or a database server's URL naming its database (Tortoise's schemes).

    The database is required: without it MariaDB has nowhere to create the
    tables, and PostgreSQL would quietly use the one named after the user.
    The host part is what follows the last ``@``, as in :func:`without_password`.
    """
    if not isinstance(value, str) or not value.startswith(("sqlite://", *SERVER_SCHEMES)):
        raise ValueError
    if value.startswith(SERVER_SCHEMES):
        database = value.partition("://")[2].rpartition("@")[2].partition("/")[2]
        if not re.split(r"[?#]", database, maxsplit=1)[0]:
            raise ValueError
    return value


db_url.expected = (  # type: ignore[attr-defined]
    "a URL starting with sqlite://, mysql:// or postgres:// (postgresql://); "
    "a server's URL names the database, as in postgres://user:pass@host:5432/db"
)


def without_password(value: Any) -> str:
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


db_url.shown = without_password  # type: ignore[attr-defined]


def secret(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value.encode()) < 32:
        raise ValueError
    return value


secret.expected = "at least 32 bytes (or empty to generate one in the data directory)"  # type: ignore[attr-defined]
secret.shown = lambda value: (  # type: ignore[attr-defined]
    f"{len(value.encode())} bytes (the value is not shown)"
    if isinstance(value, str)
    else f"a value of type {type(value).__name__}"
)


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise ValueError


flag.expected = "true or false"  # type: ignore[attr-defined]


def origins(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    return tuple(v.rstrip("/") for v in value)


origins.expected = "a list of origins such as https://chat.example.org"  # type: ignore[attr-defined]


def redis_url(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError
    return value


redis_url.expected = "a URL such as redis://127.0.0.1:6379/0 (or empty: one process, no cluster)"  # type: ignore[attr-defined]
redis_url.shown = lambda value: without_password(value)  # type: ignore[attr-defined]


def public_origin(value: Any) -> str | None:
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


public_origin.expected = "an origin such as https://chat.example.org (scheme, host and port only)"  # type: ignore[attr-defined]


def networks(value: Any) -> tuple[Network, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    return parse_networks(value)


networks.expected = "a list of addresses or CIDR blocks such as 10.0.0.0/8"  # type: ignore[attr-defined]


def optional_port(value: Any) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    return integer(1, 65535)(value)


optional_port.expected = "a port from 1 to 65535, or 0 to serve /metrics on the main port"  # type: ignore[attr-defined]
