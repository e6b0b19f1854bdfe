"""The bodies of the read-marker endpoints (:mod:`web.reads_api`), for the OpenAPI document.

Descriptive only, as every model in :mod:`web.schemas`: the handlers check
their parameters themselves, with the limits named here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from storage.reads import UNREAD_CAP
from web.schemas import Message, User, _no_default, _Wire
from web.validation import USERNAME_MAX

CONVERSATIONS_DEFAULT, CONVERSATIONS_MAX = 20, 50
UNREAD_IDS_MAX = 100
ID_LIST = rf"^[^,]{{1,64}}(,[^,]{{1,64}}){{0,{UNREAD_IDS_MAX - 1}}}$"

_UNREAD = f"Messages after the marker, counted up to {UNREAD_CAP}: {UNREAD_CAP} means that many or more."


class Conversation(_Wire):
    peer: User = Field(description="The other user (the user themselves for notes to self).")
    last_message: Message | None = Field(description="The newest message; null if it cannot be read.")
    last_read: int = Field(ge=0, description="The caller's read marker: the highest message id read.")
    unread: int = Field(ge=0, le=UNREAD_CAP, description=_UNREAD + " Only the peer's messages count.")


class ConversationPage(_Wire):
    conversations: list[Conversation] = Field(description="Newest last message first.")
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last.")


class ConversationsQuery(_Wire):
    cursor: Annotated[str, Field(min_length=1)] | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Opaque: a `next_cursor` from an earlier page, unchanged; absent: the first page.",
    )
    limit: int = Field(
        default=CONVERSATIONS_DEFAULT, ge=1, le=CONVERSATIONS_MAX, description="At most this many."
    )


class RoomUnread(_Wire):
    room_id: str
    last_read: int = Field(ge=0, description="The caller's read marker in the room (0: none).")
    unread: int = Field(ge=0, le=UNREAD_CAP, description=_UNREAD + " The caller's own messages count too.")


class PeerUnread(_Wire):
    peer_id: str
    last_read: int = Field(ge=0, description="The caller's read marker in the conversation (0: none).")
    unread: int = Field(ge=0, le=UNREAD_CAP, description=_UNREAD + " Only the peer's messages count.")


class Unread(_Wire):
    rooms: list[RoomUnread] = Field(
        description="One per room asked for, or per room the caller has a marker in."
    )
    conversations: list[PeerUnread] = Field(description="One per peer asked for.")


class UnreadQuery(_Wire):
    rooms: Annotated[str, Field(pattern=ID_LIST)] | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description=(
            f"Room ids, comma-separated, at most {UNREAD_IDS_MAX}; absent: the rooms the caller has a "
            f"marker in (at most {UNREAD_IDS_MAX})."
        ),
    )
    peers: Annotated[str, Field(pattern=ID_LIST)] | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_no_default,
        description=f"User ids, comma-separated, at most {UNREAD_IDS_MAX}; absent: none.",
    )


class LookupQuery(_Wire):
    username: str = Field(
        min_length=1,
        max_length=USERNAME_MAX,
        description="Exactly as the user would type it at login (compared as logins are); no prefix search.",
        json_schema_extra={"required": True},  # a query parameter: quart-schema reads it from here
    )
