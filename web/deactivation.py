"""Accounts deactivated while the server runs: refuse their tokens and close their sessions.

``chat-server deactivate`` is another process: it writes the deactivation
to the database and stops. This watcher (started by :func:`web.server.serve`
beside Hypercorn) asks the database every ``moderation.deactivation_check``
seconds (2 by default) for the deactivations after the last one it has
read (one indexed range query), through
:meth:`web.revocation.Revocations.look_for_deactivations`, which refuses
the account's tokens from then on (HTTP 401, the ``/ws`` handshake 401);
then it closes the account's sessions here with 1008. So a deactivation
takes effect within one interval. Every process of a cluster runs its own
watcher on the shared table, so the close is for this process's sessions only.

Failure policy: a look that fails (the database is away) is logged and
tried again at the next interval; nothing is lost, since the next look
asks for everything after the last deactivation read.
"""

from __future__ import annotations

import logging

import trio

from actors.messages import CloseUserSessions, RegistryMsg
from actors.ref import ActorGone, ActorRef
from web.revocation import Revocations
from wire import close_codes

log = logging.getLogger(__name__)

DEACTIVATED = "account deactivated by an operator"


async def watch_deactivations(
    revocations: Revocations, registry: ActorRef[RegistryMsg], interval: float
) -> None:
    while True:
        await trio.sleep(interval)
        try:
            new = await revocations.look_for_deactivations()
        except Exception as exc:
            log.warning("could not read the deactivated accounts (%s); trying again", type(exc).__name__)
            continue
        for user_id in sorted(new):
            log.info("account %s was deactivated: closing its sessions", user_id)
            try:
                await registry.tell(
                    CloseUserSessions(user_id, None, close_codes.POLICY, DEACTIVATED, here_only=True)
                )
            except ActorGone:
                return  # the server is stopping
