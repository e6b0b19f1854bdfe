"""The HTTP API's bodies as models, for the OpenAPI document at ``/openapi.json``.

These models describe; they do not parse. Every request body is still read
by :func:`web.auth.json_body` (2 or 4 KiB before parsing, duplicate keys,
``NaN``, lone surrogates and nesting refused) and checked by
:mod:`web.validation`, whose messages say what to type instead: quart-schema's
``validate_request`` would parse the body first with Quart's lax JSON parser
(last duplicate key wins, ``NaN`` accepted) and answer with pydantic's
messages. The handlers likewise build their answers from the storage objects'
``to_wire``; the schemathesis run in ``tests/test_openapi.py`` holds the
two together, checking every answer against the document built from here.

The limits in the fields are :mod:`web.validation`'s and
:mod:`web.room_pages`' own constants, so the document cannot drift from the
checks. What JSON Schema cannot say (NFC, scripts, look-alikes, "not blank")
is in the descriptions and in docs/protocol-notes.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from web.room_pages import ROOMS_DEFAULT, ROOMS_MAX
from web.validation import (
    HISTORY_DEFAULT,
    HISTORY_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    ROOM_NAME_MAX,
    USERNAME_MAX,
)

ErrorCode = Literal[
    "bad_request",
    "unauthorized",
    "invalid_credentials",
    "forbidden",
    "not_found",
    "room_not_found",
    "user_not_found",
    "method_not_allowed",
    "deactivated",
    "username_taken",
    "room_name_taken",
    "block_limit",
    "rate_limited",
    "internal",
    "unavailable",
]
"""Every code an HTTP answer can carry (the WebSocket's own codes are in its frames)."""

ID_MAX = 10**18 - 1
"""The largest ``before`` the history endpoints read (18 digits, see :func:`web.validation.paging`)."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Exact(BaseModel):
    """A shape that never grows: no property beyond those listed."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _example(**fields: str) -> ConfigDict:
    """A request body to show, and for schemathesis to send first."""
    example: JsonDict = dict(fields.items())
    return ConfigDict(frozen=True, json_schema_extra={"examples": [example]})


class ErrorDetail(_Exact):
    code: ErrorCode = Field(description="What went wrong, for programs: one of a fixed set.")
    message: str = Field(description="What went wrong and what to do, for people.")


class ErrorBody(_Exact):
    """The error body every error answer carries."""

    error: ErrorDetail


class User(_Wire):
    user_id: str = Field(description="Opaque.")
    username: str = Field(description="As registered, NFC-normalised.")


class Room(_Wire):
    room_id: str = Field(description="Opaque: 12 hex characters, or a configured id such as `lobby`.")
    name: str
    created_at: int = Field(description="Milliseconds since the Unix epoch.")
    visibility: Literal["public", "private"] = Field(
        description="`private`: listed, readable and joinable only by its members."
    )


class RoomWithOnline(Room):
    online: int = Field(ge=0, description="Users with a session in the room now.")


def _no_default(schema: JsonDict) -> None:
    """An absent parameter is not a null one: leave ``default: null`` out of the document."""
    schema.pop("default", None)


class GroupMessage(_Wire):
    type: Literal["group"]
    id: int = Field(description="Increasing in the order the room accepted its messages.")
    content: str
    sender: User
    timestamp: int = Field(description="Milliseconds since the Unix epoch.")
    room_id: str
    edited_at: int | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Only on an edited message: when it was last edited (ms since the epoch).",
    )
    deleted_at: int | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Only on a deleted message (its `content` is then empty): when it was deleted.",
    )
    deleted_by: User | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_no_default, description="Only on a deleted message: who deleted it."
    )


class PrivateMessage(_Wire):
    type: Literal["private"]
    id: int = Field(description="Increasing in the order the conversation's messages were accepted.")
    content: str
    sender: User
    timestamp: int = Field(description="Milliseconds since the Unix epoch.")
    target_id: str = Field(description="The receiving user's id.")


Message = Annotated[GroupMessage | PrivateMessage, Field(discriminator="type")]


class Registration(_Wire):
    """Extra properties are ignored."""

    model_config = _example(username="alice_01", password="correct horse battery")

    username: str = Field(
        min_length=1,
        max_length=USERNAME_MAX,
        description=(
            "Letters of any script, decimal digits, `_`, `.`, `-`, counted after NFC normalisation; "
            "no invisible, styled or mixed-script look-alike characters (docs/protocol-notes.md)."
        ),
    )
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class Credentials(_Wire):
    """Extra properties are ignored. A username or password longer than any registered is 401."""

    model_config = _example(username="alice_01", password="correct horse battery")

    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class NewRoom(_Wire):
    """Extra properties are ignored."""

    model_config = _example(name="General")

    name: str = Field(
        min_length=1,
        max_length=ROOM_NAME_MAX,
        description=(
            "Not blank; no control or invisible format characters except inside an emoji. Unique: "
            "no two rooms have names equal after NFKC, case folding and trimming (409 `room_name_taken`). "
            "A private room's name is not in that namespace: it may repeat any other name."
        ),
    )
    visibility: Literal["public", "private"] = Field(
        default="public",
        description="`private`: only members see, read and join it; the creator is its owner and first member.",
    )


class PasswordChange(_Wire):
    """Extra properties are ignored."""

    model_config = _example(old_password="correct horse battery", new_password="a longer passphrase")

    old_password: str = Field(min_length=1)
    new_password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class UserReply(_Wire):
    user: User


class Token(_Wire):
    """A bearer token for the other endpoints and ``/ws``."""

    token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(gt=0, description="Seconds the token stays valid.")
    user: User


class RoomReply(_Wire):
    room: Room


class RememberedRoomList(_Wire):
    rooms: list[Room] = Field(
        description="The rooms to rejoin after a login: joined and not left since, newest join first, at most 100."
    )
    remembered: bool = Field(
        description=(
            "False for a user who never joined a room: `rooms` then holds the first configured room "
            "(the lobby), where a first login lands."
        )
    )


class RoomDetail(_Wire):
    room: RoomWithOnline


class RoomPage(_Wire):
    rooms: list[RoomWithOnline] = Field(description="Oldest first.")
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last.")


class UserList(_Wire):
    users: list[User]


class MessageList(_Wire):
    messages: list[Message] = Field(description="Oldest first.")


class Health(_Exact):
    """``ok`` once the server is ready; ``unavailable`` (503) while it starts or shuts down, or in the
    cluster mode while its subscription to Redis is lost (new sessions would be closed with 1012)."""

    status: Literal["ok", "unavailable"]


class HistoryQuery(_Wire):
    before: Annotated[int, Field(ge=1, le=ID_MAX)] | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Only messages with a smaller id; absent: up to the newest.",
    )
    limit: int = Field(
        default=HISTORY_DEFAULT, ge=1, le=HISTORY_MAX, description="At most this many messages."
    )


class RoomsQuery(_Wire):
    cursor: Annotated[str, Field(min_length=1)] | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Opaque: a `next_cursor` from an earlier page, unchanged; absent: the first page.",
    )
    limit: int = Field(default=ROOMS_DEFAULT, ge=1, le=ROOMS_MAX, description="At most this many rooms.")
