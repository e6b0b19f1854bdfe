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
