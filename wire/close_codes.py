"""WebSocket close codes, one table for the whole server (RFC 6455 section 7.4, and ours).

The contract names the ones a client must handle: 1000, 1001, 1008, 1009,
1011, 1013 and 4401. The frame layer adds 1002 and 1007 for frames that
break RFC 6455.
"""

from __future__ import annotations

NORMAL = 1000
GOING_AWAY = 1001
"""The server is shutting down; every open session gets it before the process exits."""
PROTOCOL_ERROR = 1002
NO_STATUS = 1005
"""Never on the wire: what a close frame without a code is read as."""
INVALID_DATA = 1007
"""Invalid UTF-8 in a text message or a close reason."""
POLICY = 1008
TOO_BIG = 1009
"""A message over the size limit, or in more fragments than allowed."""
INTERNAL = 1011
"""The session's own actor crashed; nothing else is affected."""
SERVICE_RESTART = 1012
"""The cluster lost its Redis for a moment: reconnect, and recover what was missed with ``since``."""
TOO_SLOW = 1013
"""The client did not read fast enough: its outgoing queue overflowed."""
TOKEN_EXPIRED = 4401
"""The token expired, or was logged out or replaced, while connected: log in again and reconnect."""

VALID_FROM_PEER = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))
"""The registered codes a peer may send; 3000-4999 are allowed too (applications' own)."""


def valid_from_peer(code: int) -> bool:
    return code in VALID_FROM_PEER or 3000 <= code <= 4999
