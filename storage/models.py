"""Tortoise models: the tables of users, rooms and messages."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class UserRow(Model):
    id = fields.CharField(max_length=32, primary_key=True)
    username = fields.CharField(max_length=32)
    # storage.usernames.username_key (PRECIS UsernameCaseMapped): uniqueness is judged on
    # this, identically on SQLite, MariaDB and PostgreSQL (MariaDB's default collation would otherwise disagree).
    username_key = fields.CharField(max_length=128, unique=True)
    password_hash = fields.CharField(max_length=255)
    created_at = fields.BigIntField()

    class Meta:
        table = "users"


class RoomRow(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=64)
    created_by = fields.CharField(max_length=32, null=True)
    created_at = fields.BigIntField()

    class Meta:
        table = "rooms"
        # The room list pages by (created_at, id); the quota counts rooms by creator.
        indexes = (("created_at", "id"), ("created_by",))


class RoomNameRow(Model):
    """Which room holds a name: the database itself refuses a second room of the same name.

    ``name_key`` is :func:`storage.room_names.room_name_key`, unique; a room that
    shares its name with an older one (made before names were unique) has a
    row with no key, so that the start-up scan does not look at it again.
    A table of its own rather than a column of ``rooms``, so that databases
    made before it gain it from ``generate_schemas`` without a migration.
    """

    room_id = fields.CharField(max_length=64, primary_key=True)
    name_key = fields.CharField(max_length=64, null=True, unique=True)  # not "key": MariaDB reserves it

    class Meta:
        table = "room_names"


class MessageRow(Model):
    # Ids are assigned by the journal, not the database: they must be known
    # before the commit so that delivery order, id order and history agree.
    id = fields.BigIntField(primary_key=True, generated=False)
    kind = fields.CharField(max_length=8)
    room_id = fields.CharField(max_length=64, null=True)
    # For private messages, "<smaller user id>:<larger user id>": one index serves both directions.
    conversation = fields.CharField(max_length=66, null=True)
    sender_id = fields.CharField(max_length=32)
    sender_name = fields.CharField(max_length=32)
    target_id = fields.CharField(max_length=32, null=True)
    content = fields.TextField()
    created_at = fields.BigIntField()

    class Meta:
        table = "messages"
        indexes = (("room_id", "id"), ("conversation", "id"))


class TokenGenerationRow(Model):
    """A user's token generation: tokens issued under an older one are refused (logout-all, password change).

    A table of its own rather than a column of ``users``, so that databases
    made before it gain it from ``generate_schemas`` without a migration. No
    row means generation 0.
    """

    user_id = fields.CharField(max_length=32, primary_key=True)
    generation = fields.IntField()

    class Meta:
        table = "token_generations"


class RevokedTokenRow(Model):
    """One logged-out token, kept until it would have expired anyway."""

    jti = fields.CharField(max_length=32, primary_key=True)
    user_id = fields.CharField(max_length=32)
    expires_at = fields.BigIntField()  # seconds since the epoch, as the token's exp

    class Meta:
        table = "revoked_tokens"
        indexes = (("expires_at",),)


class ConversationRow(Model):
    """One side of a private conversation: what ``user_id`` has with ``peer_id`` (two rows per pair).

    Kept by the group commit (:meth:`storage.database.Database.write_messages`)
    in the transaction that stores the message, so the conversation list is
    a range of an index instead of a grouping of every private message.
    ``last_read`` is the user's read marker (never lowered); sending a
    message moves the sender's marker to it. ``id`` is ``<user_id>:<peer_id>``.
    """

    id = fields.CharField(max_length=66, primary_key=True)
    user_id = fields.CharField(max_length=32)
    peer_id = fields.CharField(max_length=32)
    last_message_id = fields.BigIntField()
    last_read = fields.BigIntField(default=0)

    class Meta:
        table = "conversations"
        # A user's conversations, newest first, paged by (last_message_id, peer_id).
        indexes = (("user_id", "last_message_id", "peer_id"),)


class RoomReadRow(Model):
    """A user's read marker in a room: the highest message id read, never lowered. ``id``: ``<user_id>:<room_id>``."""

    id = fields.CharField(max_length=100, primary_key=True)
    user_id = fields.CharField(max_length=32)
    room_id = fields.CharField(max_length=64)
    last_read = fields.BigIntField()

    class Meta:
        table = "room_reads"
        indexes = (("user_id", "room_id"),)


# --- moderation (storage.moderation, storage.operators) ----------------------------


class RoomRoleRow(Model):
    """A user's role in a room besides being a member: ``admin``. ``id``: ``<room_id>:<user_id>``.

    The owner needs no row: it is the room's creator (``rooms.created_by``),
    or for a configured room the configured owner (``moderation.rooms_owner``).
    """

    id = fields.CharField(max_length=100, primary_key=True)
    room_id = fields.CharField(max_length=64)
    user_id = fields.CharField(max_length=32)
    role = fields.CharField(max_length=16)
    granted_by = fields.CharField(max_length=32)
    granted_at = fields.BigIntField()

    class Meta:
        table = "room_roles"
        indexes = (("room_id",),)


class RoomSanctionRow(Model):
    """A mute or ban in force. ``id``: ``<room_id>:<user_id>:<kind>``; lifting it deletes the row.

    ``until`` (ms since the epoch) is when it ends by itself, NULL: when lifted.
    A row past its ``until`` is ignored when a room loads (and replaced by the next one).
    """

    id = fields.CharField(max_length=110, primary_key=True)
    room_id = fields.CharField(max_length=64)
    user_id = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=8)
    until = fields.BigIntField(null=True)
    reason = fields.TextField(null=True)
    actor_id = fields.CharField(max_length=32)
    created_at = fields.BigIntField()

    class Meta:
        table = "room_sanctions"
        indexes = (("room_id",),)


class ModerationLogRow(Model):
    """One moderation action: who did what to whom, when, why, and until when. Never changed."""

    id = fields.BigIntField(primary_key=True)
    room_id = fields.CharField(max_length=64)
    action = fields.CharField(max_length=16)
    actor_id = fields.CharField(max_length=32)
    actor_name = fields.CharField(max_length=32)
    target_id = fields.CharField(max_length=32)
    target_name = fields.CharField(max_length=32)
    reason = fields.TextField(null=True)
    until = fields.BigIntField(null=True)
    created_at = fields.BigIntField()

    class Meta:
        table = "moderation_log"
        indexes = (("room_id", "id"),)


class SiteAdminRow(Model):
    """A site administrator (``chat-server make-admin``): acts as the owner of every room."""

    user_id = fields.CharField(max_length=32, primary_key=True)
    created_at = fields.BigIntField()

    class Meta:
        table = "site_admins"


class DeactivatedUserRow(Model):
    """A deactivated account (``chat-server deactivate``): it cannot log in; its messages stay.

    ``id`` grows with each deactivation, so a running server finds the new
    ones by asking for the ids after the last it has seen.
    """

    id = fields.BigIntField(primary_key=True)
    user_id = fields.CharField(max_length=32, unique=True)
    deactivated_at = fields.BigIntField()

    class Meta:
        table = "deactivated_users"


class RefreshCredentialRow(Model):
    """One browser login's refresh credential (:mod:`storage.session_credentials`); only hashes are kept.

    ``family_id`` names the login for as long as it lasts; the secret beside it
    in the cookie changes at every refresh. ``previous_hash`` is the secret it
    replaced, accepted for a few seconds after ``rotated_at`` (tabs that asked
    at once), refused afterwards: a replaced secret coming back means a copy
    of the cookie is in other hands, and the login is ended.
    """

    family_id = fields.CharField(max_length=32, primary_key=True)
    user_id = fields.CharField(max_length=32)
    secret_hash = fields.CharField(max_length=64)  # SHA-256, hex
    previous_hash = fields.CharField(max_length=64, null=True)
    rotated_at = fields.BigIntField()  # ms since the epoch
    logged_in_at = fields.BigIntField()  # seconds since the epoch, as a token's auth claim
    expires_at = fields.BigIntField()  # seconds since the epoch

    class Meta:
        table = "refresh_credentials"
        indexes = (("user_id",), ("expires_at",))


class RememberedRoomRow(Model):
    """Whether a user is in a room as far as their next login goes (:mod:`storage.remembered_rooms`).

    ``id`` is ``<user_id>:<room_id>``. A leave keeps the row with ``joined``
    false, so that "never joined a room" (a first login, sent to the lobby)
    stays apart from "left every room". ``changed_at`` (ms) orders the
    changes of concurrent writers: an older one never overwrites a newer one.
    """

    id = fields.CharField(max_length=100, primary_key=True)
    user_id = fields.CharField(max_length=32)
    room_id = fields.CharField(max_length=64)
    joined = fields.BooleanField()
    changed_at = fields.BigIntField()

    class Meta:
        table = "remembered_rooms"
        indexes = (("user_id", "changed_at"),)


class UserBlockRow(Model):
    """One block (:mod:`storage.blocks`): no private messages between ``blocker_id`` and ``blocked_id``.

    ``id`` is ``<blocker_id>:<blocked_id>``, so a block is stored once however
    often it is asked for; unblocking deletes the row. A table of its own, so
    that databases made before it gain it from ``generate_schemas``.
    """

    id = fields.CharField(max_length=66, primary_key=True)
    blocker_id = fields.CharField(max_length=32)
    blocked_id = fields.CharField(max_length=32)
    created_at = fields.BigIntField()

    class Meta:
        table = "user_blocks"
        # A user's list, paged by (created_at, blocked_id); who blocks a user, for their relations.
        indexes = (("blocker_id", "created_at", "blocked_id"), ("blocked_id",))


class PrivateRoomRow(Model):
    """A private room (:mod:`storage.membership`): listed, read and joined only by its members.

    A room without a row is public. A table of its own rather than a column
    of ``rooms``, so that databases made before it gain it from ``generate_schemas``.
    """

    room_id = fields.CharField(max_length=64, primary_key=True)
    created_at = fields.BigIntField()

    class Meta:
        table = "private_rooms"


class RoomMemberRow(Model):
    """A member of a private room; ``id`` is ``<room_id>:<user_id>``."""

    id = fields.CharField(max_length=100, primary_key=True)
    room_id = fields.CharField(max_length=64)
    user_id = fields.CharField(max_length=32)
    added_by = fields.CharField(max_length=32)
    added_at = fields.BigIntField()

    class Meta:
        table = "room_members"
        indexes = (("room_id", "added_at"), ("user_id",))


class RoomInviteRow(Model):
    """A pending invite to a private room; ``id`` is ``<room_id>:<user_id>`` (one per room and invitee)."""

    id = fields.CharField(max_length=100, primary_key=True)
    room_id = fields.CharField(max_length=64)
    user_id = fields.CharField(max_length=32)
    inviter_id = fields.CharField(max_length=32)
    inviter_name = fields.CharField(max_length=32)
    created_at = fields.BigIntField()

    class Meta:
        table = "room_invites"
        indexes = (("user_id", "created_at"),)


class MessageRevisionRow(Model):
    """An edit or a delete of a room message (:mod:`storage.revisions`). ``message_id``: the message's id.

    The message's row keeps its latest content (erased to the empty string
    by a delete); this row says when it was last edited, or when and by whom
    it was deleted. A table of its own, so that databases made before it
    gain it from ``generate_schemas`` without an ALTER of ``messages``, and
    messages never revised cost nothing.
    """

    message_id = fields.BigIntField(primary_key=True, generated=False)
    room_id = fields.CharField(max_length=64)
    edited_at = fields.BigIntField(null=True)
    deleted_at = fields.BigIntField(null=True)
    deleted_by_id = fields.CharField(max_length=32, null=True)
    deleted_by_name = fields.CharField(max_length=32, null=True)
    changed_at = fields.BigIntField()
    """The last edit or the delete: a reconnecting client is told the changes made while it was away."""

    class Meta:
        table = "message_revisions"
        indexes = (("room_id", "changed_at"),)
