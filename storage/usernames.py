"""The form in which two usernames are compared: PRECIS UsernameCaseMapped.

Two names belong to the same account when their keys are equal. The key is
the IETF PRECIS ``UsernameCaseMapped`` profile (RFC 8265): full-width and
half-width characters are mapped to their ordinary forms, letters are
lower-cased, the result is NFC-normalised and must be made of letters,
digits and printable ASCII only. So ``ALICE``, ``alice`` and a full-width
``alice`` share one key, and no key holds an invisible or styled character.

:func:`username_key` is the one function that everybody compares with
(registration, login, the login throttle). It never raises: login takes any
string, and a string the profile refuses gets the key the server used before
PRECIS (NFC, then case folding), so looking it up finds nothing new and the
login still costs a password hash.

Accounts stored before the switch carry that older key. :func:`rekey_users`
moves them to the PRECIS key when storage starts; :func:`plan_rekey`
decides, without any I/O, which of them must stay where they are because
another account already holds their new key (a look-alike pair registered
under the old rules), and :func:`login_key` still lets those log in.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from precis_i18n import get_profile
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from storage.dialects import parameter_marks
from storage.models import UserRow

log = logging.getLogger(__name__)

_CASE_MAPPED = get_profile("UsernameCaseMapped")
_CASE_PRESERVED = get_profile("UsernameCasePreserved")

# Letters, digits and "_.-" of ASCII: the profile maps these to their lower
# case and nothing else, so the start-up scan of every account skips its cost.
_PLAIN_ASCII = re.compile(r"[A-Za-z0-9_.\-]+")

_PAGE = 2000
_COLUMNS = ("id", "username", "username_key", "created_at")


def legacy_key(name: str) -> str:
    """The key before PRECIS, kept as the fallback for names the profile refuses."""
    return unicodedata.normalize("NFC", name).casefold()


def precis_key(name: str) -> str | None:
    """The UsernameCaseMapped form of ``name``, or None when the profile refuses it."""
    if _PLAIN_ASCII.fullmatch(name):
        return name.lower()
    try:
        return _CASE_MAPPED.enforce(name)
    except UnicodeEncodeError:
        return None


def username_key(name: str) -> str:
    """The comparison key of any string; deterministic and never raising."""
    key = precis_key(name)
    return legacy_key(name) if key is None else key


@dataclass(frozen=True, slots=True)
class PrecisRefusal:
    """Why the profile refuses a name: its reason (``has_compat``, ``bidi_rule``...) and where."""

    reason: str
    character: str | None


def precis_refusal(name: str) -> PrecisRefusal | None:
    """What the profile has against ``name`` beyond letter case, or None.

    ``reason`` is the profile's own word for a refused character, or
    ``width_mapped`` when the name is accepted only after full-width or
    half-width characters were replaced by ordinary ones: a name that
    differs from its key by more than case looks like another account's.
    """
    if _PLAIN_ASCII.fullmatch(name):
        return None
    for profile in (_CASE_PRESERVED, _CASE_MAPPED):
        try:
            enforced = profile.enforce(name)
        except UnicodeEncodeError as error:
            reason = error.reason.rpartition("/")[2]
            text = error.object
            inside = 0 <= error.start < len(text) and error.end - error.start == 1
            return PrecisRefusal(reason, text[error.start] if inside else None)
        if profile is _CASE_PRESERVED and enforced != name:
            changed = next((a for a, b in zip(name, enforced, strict=False) if a != b), None)
            return PrecisRefusal("width_mapped", changed)
    return None


# ----------------------------------------------------------------- rekeying


@dataclass(frozen=True, slots=True)
class StoredName:
    """One account as the users table holds it."""

    user_id: str
    username: str
    key: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Rekey:
    """The start-up change of keys: ``moves`` (user_id, new key) and the accounts ``kept`` on their old one."""

    moves: tuple[tuple[str, str], ...]
    kept: tuple[str, ...]


def stale(row: StoredName) -> bool:
    return username_key(row.username) != row.key


def plan_rekey(changed: Iterable[StoredName], holders: Iterable[StoredName]) -> Rekey:
    """Which ``changed`` accounts (whose stored key is stale) move to their new key.

    ``holders`` are the accounts whose stored key equals one of those new
    keys. A holder that is not stale itself keeps its key: its name is
    already the plain form. Otherwise the oldest account wins and the others
    stay on their old key, where :func:`login_key` still finds them.
    """
    settled = {row.key for row in holders if not stale(row)}
    wanting: dict[str, list[StoredName]] = {}
    for row in changed:
        wanting.setdefault(username_key(row.username), []).append(row)
    moves: list[tuple[str, str]] = []
    kept: list[str] = []
    for key, rows in wanting.items():
        rows.sort(key=lambda r: (r.created_at, r.user_id))
        winners = [] if key in settled else rows[:1]
        moves.extend((row.user_id, key) for row in winners)
        kept.extend(row.user_id for row in rows[len(winners) :])
    return Rekey(tuple(moves), tuple(kept))


def login_keys(typed: str) -> tuple[str, ...]:
    """The stored keys under which a login name may be found: its key, and its old key if different."""
    key, old = username_key(typed), legacy_key(typed)
    return (key,) if key == old else (key, old)


def login_key(typed: str, found: Mapping[str, str]) -> str | None:
    """Which stored key a login name means, given ``found``: stored key -> username of that account.

    An account kept on its old key (see :func:`plan_rekey`) is still reached
    by typing its name exactly as before; every other name means the
    account that holds its PRECIS key.
    """
    key, old = username_key(typed), legacy_key(typed)
    kept = found.get(old)
    if old != key and kept is not None and username_key(kept) != old:
        return old
    return key if key in found else None


async def rekey_users() -> Rekey:
    """Bring every stored key up to :func:`username_key`; run at start-up, before any request.

    Pages through the users table by id, so memory holds one page and the
    accounts that change. Names of plain ASCII cost next to nothing, others
    some microseconds per character: 100,000 accounts, a tenth of them not
    ASCII, take about 1 s on SQLite. A move that collides (a chain of moves,
    or another process doing the same) is retried while others succeed,
    then counted as kept.
    """
    connection = Tortoise.get_connection("default")
    mark = parameter_marks(connection.capabilities.dialect, 1)
    # Plain SQL: building Tortoise objects for every account cost more than the keys themselves.
    scan = f"SELECT {', '.join(_COLUMNS)} FROM users WHERE id > {mark} ORDER BY id LIMIT {_PAGE}"
    changed: list[StoredName] = []
    after = ""
    while True:
        _, page = await connection.execute_query(scan, [after])
        if not page:
            break
        rows = (StoredName(*(values[column] for column in _COLUMNS)) for values in page)
        changed.extend(row for row in rows if stale(row))
        after = page[-1]["id"]
    if not changed:
        return Rekey((), ())
    wanted = sorted({username_key(row.username) for row in changed})
    holders: list[StoredName] = []
    for i in range(0, len(wanted), _PAGE):
        found = await UserRow.filter(username_key__in=wanted[i : i + _PAGE]).values_list(*_COLUMNS)
        holders.extend(StoredName(*values) for values in found)
    plan = plan_rekey(changed, holders)
    pending, kept = list(plan.moves), list(plan.kept)
    while pending:
        failed = []
        for user_id, key in pending:
            try:
                await UserRow.filter(id=user_id).update(username_key=key)
            except IntegrityError:
                failed.append((user_id, key))
        if len(failed) == len(pending):
            kept.extend(user_id for user_id, _ in failed)
            break
        pending = failed
    done = Rekey(tuple(move for move in plan.moves if move[0] not in kept), tuple(kept))
    if done.moves:
        log.info("usernames: %d account(s) moved to the PRECIS comparison key", len(done.moves))
    if done.kept:
        log.warning(
            "usernames: %d account(s) keep their old comparison key because a look-alike account holds "
            "the new one; they log in with their name exactly as registered: %s",
            len(done.kept),
            ", ".join(done.kept),
        )
    return done


async def names_by_id(user_ids: Iterable[str]) -> dict[str, str]:
    """The usernames of ``user_ids`` that exist, by id: one query, none for no id.

    Awaited inside a query that already runs on the database's loop (:mod:`storage.bridge`).
    """
    wanted = list(user_ids)
    if not wanted:
        return {}
    return {str(i): str(n) for i, n in await UserRow.filter(id__in=wanted).values_list("id", "username")}
