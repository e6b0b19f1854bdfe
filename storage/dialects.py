"""What differs between SQLite, MariaDB and PostgreSQL in the SQL we write by hand.

Tortoise writes most queries; two hot paths bypass it with plain SQL (the
group commit's ``executemany`` and the start-up scan of every account), and
each driver wants its own parameter marks there: ``?`` for aiosqlite,
``%s`` for asyncmy, ``$1, $2, ...`` for asyncpg. The dialect is the one
Tortoise's connection reports (``capabilities.dialect``), so the URL schemes
that name one driver (``postgres://``, ``postgresql://``) all agree.

PostgreSQL's text types cannot hold U+0000, which the protocol allows in a
message: :func:`storable_text` and :func:`stored_text` carry it through.
"""

from __future__ import annotations

import re

NUL = "\x00"

_ESCAPE = "\uffff"  # a noncharacter: no real message holds it, so stored text is the message itself
_ESCAPED = re.compile(f"{_ESCAPE}(.)", re.DOTALL)


def parameter_marks(dialect: str, count: int) -> str:
    """``count`` parameter marks for ``dialect``, comma-separated, numbered from 1 where the driver numbers them."""
    if dialect == "postgres":
        return ", ".join(f"${n}" for n in range(1, count + 1))
    return ", ".join(["%s" if dialect == "mysql" else "?"] * count)


def storable_text(dialect: str, text: str) -> str:
    """``text`` as ``dialect`` can store it: on PostgreSQL U+0000 and the escape character are escaped.

    Only a message holding one of the two changes; :func:`stored_text` undoes it.
    """
    if dialect != "postgres" or (NUL not in text and _ESCAPE not in text):
        return text
    return text.replace(_ESCAPE, _ESCAPE + _ESCAPE).replace(NUL, _ESCAPE + "0")


def stored_text(dialect: str, text: str) -> str:
    """The text :func:`storable_text` was given."""
    if dialect != "postgres" or _ESCAPE not in text:
        return text
    return _ESCAPED.sub(lambda m: NUL if m[1] == "0" else m[1], text)
