"""Refresh credentials in Trio terms (see :class:`storage.models.RefreshCredentialRow`).

What :mod:`web.refresh_cookie` needs to keep a browser signed in: a login's
row is created, read, rotated (a compare-and-swap, so two refreshes with one
secret cannot both rotate it) and deleted. Only SHA-256 hashes of the
secrets are stored: a copy of the database does not sign anyone in. Every
method crosses the asyncio bridge once.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.bridge import AsyncioBridge
from storage.models import RefreshCredentialRow


@dataclass(frozen=True, slots=True)
class RefreshFamily:
    """One browser login, as stored."""

    family_id: str
    user_id: str
    secret_hash: str
    previous_hash: str | None
    rotated_at: int
    """Milliseconds since the epoch: when ``previous_hash`` was replaced (or the login, at first)."""
    logged_in_at: int
    """Seconds since the epoch, when the password was typed."""
    expires_at: int
    """Seconds since the epoch; refused from then on."""


def _family(row: RefreshCredentialRow) -> RefreshFamily:
    return RefreshFamily(
        row.family_id,
        row.user_id,
        row.secret_hash,
        row.previous_hash,
        int(row.rotated_at),
        int(row.logged_in_at),
        int(row.expires_at),
    )


class RefreshCredentials:
    def __init__(self, bridge: AsyncioBridge) -> None:
        self._bridge = bridge

    async def create(self, family: RefreshFamily, *, now: int, keep_per_user: int) -> None:
        """Store a new login; the user's oldest logins past ``keep_per_user`` are dropped.

        Expired rows (of anyone) are deleted on the way, so the table holds
        only logins that can still be refreshed.
        """

        async def insert() -> None:
            await RefreshCredentialRow.filter(expires_at__lt=now).delete()
            await RefreshCredentialRow.create(
                family_id=family.family_id,
                user_id=family.user_id,
                secret_hash=family.secret_hash,
                previous_hash=family.previous_hash,
                rotated_at=family.rotated_at,
                logged_in_at=family.logged_in_at,
                expires_at=family.expires_at,
            )
            ids = (
                await RefreshCredentialRow.filter(user_id=family.user_id)
                .order_by("-logged_in_at", "-family_id")
                .values_list("family_id", flat=True)
            )
            dropped = [str(i) for i in ids[keep_per_user:]]
            if dropped:
                await RefreshCredentialRow.filter(family_id__in=dropped).delete()

        await self._bridge.call(insert)

    async def find(self, family_id: str) -> RefreshFamily | None:
        async def query() -> RefreshCredentialRow | None:
            return await RefreshCredentialRow.filter(family_id=family_id).first()

        row = await self._bridge.call(query)
        return None if row is None else _family(row)

    async def rotate(self, family_id: str, old_hash: str, new_hash: str, now_ms: int) -> bool:
        """Replace the secret ``old_hash`` by ``new_hash``; False if ``old_hash`` is no longer the current one."""

        async def swap() -> int:
            return await RefreshCredentialRow.filter(family_id=family_id, secret_hash=old_hash).update(
                secret_hash=new_hash, previous_hash=old_hash, rotated_at=now_ms
            )

        return bool(await self._bridge.call(swap))

    async def delete(self, family_id: str) -> None:
        """End one login (nothing if it has ended already)."""

        async def remove() -> None:
            await RefreshCredentialRow.filter(family_id=family_id).delete()

        await self._bridge.call(remove)

    async def delete_user(self, user_id: str) -> None:
        """End every login of the user (logout everywhere, password change)."""

        async def remove() -> None:
            await RefreshCredentialRow.filter(user_id=user_id).delete()

        await self._bridge.call(remove)
