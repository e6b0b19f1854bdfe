"""Client frames to commands (:mod:`wire.commands`): each command, each refusal and its code, without a socket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wire.commands import (
    MAX_ID_LENGTH,
    MAX_REF_LENGTH,
    REF_READ_MAX,
    AskOnline,
    Command,
    FrameError,
    Join,
    Leave,
    Ping,
    Refresh,
    SendGroup,
    SendPrivate,
    Sync,
    frame_size,
    parse_command,
    ref_of,
)
from wire.strict_json import MAX_DEPTH

MAX_CONTENT = 20


def parse(frame: str | bytes | dict[str, Any]) -> Command | FrameError:
    return parse_command(
        frame if isinstance(frame, str | bytes) else json.dumps(frame), max_content=MAX_CONTENT
    )


def refusal(frame: str | bytes | dict[str, Any]) -> FrameError:
    result = parse(frame)
    assert isinstance(result, FrameError), result
    return result


# --- every command ------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "command"),
    [
        ({"type": "join", "room_id": "lobby"}, Join("lobby")),
        ({"type": "join", "room_id": "lobby", "since": 41, "ref": 1}, Join("lobby", 1, 41)),
        ({"type": "join", "room_id": "lobby", "since": None}, Join("lobby")),
        ({"type": "leave", "room_id": "lobby", "ref": "x"}, Leave("lobby", "x")),
        ({"type": "group", "room_id": "lobby", "content": "hi"}, SendGroup("lobby", "hi")),
        ({"type": "private", "target_id": "u1", "content": "psst"}, SendPrivate("u1", "psst")),
        ({"type": "online"}, AskOnline(None)),
        ({"type": "online", "room_id": None}, AskOnline(None)),
        ({"type": "online", "room_id": "lobby"}, AskOnline("lobby")),
        ({"type": "ping", "ref": 0}, Ping(0)),
        ({"type": "sync", "since": 0}, Sync(0)),
        ({"type": "refresh", "token": "a.b.c", "ref": "r"}, Refresh("a.b.c", "r")),
    ],
)
def test_each_command_is_parsed_into_its_dataclass(frame: dict[str, Any], command: Command) -> None:
    assert parse(frame) == command


def test_unknown_fields_are_ignored_and_whitespace_may_lead() -> None:
    assert parse(' \n\t{"type": "ping", "extra": [1, 2], "ref": "r"}') == Ping("r")


def test_content_of_exactly_the_limit_is_accepted_and_one_more_is_content_too_long() -> None:
    at_limit = "x" * MAX_CONTENT
    assert parse({"type": "group", "room_id": "r", "content": at_limit}) == SendGroup("r", at_limit)
    error = refusal({"type": "group", "room_id": "r", "content": at_limit + "x", "ref": 3})
    assert (error.code, error.ref) == ("content_too_long", 3)
    error = refusal({"type": "private", "target_id": "u", "content": "é" * (MAX_CONTENT + 1)})
    assert error.code == "content_too_long", "characters are counted, not bytes"
    assert parse({"type": "private", "target_id": "u", "content": "é" * MAX_CONTENT}) == SendPrivate(
        "u", "é" * MAX_CONTENT
    )


def test_an_unknown_type_is_unknown_type_with_the_ref_echoed() -> None:
    error = refusal({"type": "dance", "ref": "r1"})
    assert (error.code, error.ref) == ("unknown_type", "r1")
    assert "dance" in error.message


def test_the_unknown_type_named_back_is_cut_short() -> None:
    error = refusal({"type": "x" * 10_000})
    assert error.code == "unknown_type" and len(error.message) < 100


# --- bad_request, and what it says ---------------------------------------------


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ({"room_id": "lobby"}, "type must be a string"),
        ({"type": 7}, "type must be a string"),
        ({"type": None}, "type must be a string"),
        ({"type": "join"}, "room_id must be a string"),
        ({"type": "join", "room_id": 5}, "room_id must be a string"),
        ({"type": "join", "room_id": ""}, "non-empty"),
        ({"type": "join", "room_id": "r" * (MAX_ID_LENGTH + 1)}, f"at most {MAX_ID_LENGTH}"),
        ({"type": "join", "room_id": "r", "since": -1}, "since must be a message id"),
        ({"type": "join", "room_id": "r", "since": 1.5}, "since must be a message id"),
        ({"type": "join", "room_id": "r", "since": True}, "since must be a message id"),
        ({"type": "join", "room_id": "r", "since": "3"}, "since must be a message id"),
        ({"type": "leave"}, "room_id must be a string"),
        ({"type": "group", "room_id": "r"}, "content must be a string"),
        ({"type": "group", "room_id": "r", "content": ""}, "content must not be empty"),
        ({"type": "group", "room_id": "r", "content": ["hi"]}, "content must be a string"),
        ({"type": "group", "content": "hi"}, "room_id must be a string"),
        ({"type": "private", "content": "hi"}, "target_id must be a string"),
        ({"type": "private", "target_id": "", "content": "hi"}, "non-empty"),
        ({"type": "online", "room_id": ""}, "non-empty"),
        ({"type": "online", "room_id": 3}, "room_id must be a string"),
        ({"type": "sync"}, "since must be a message id"),
        ({"type": "sync", "since": 2**63}, "since must be a message id"),
        ({"type": "refresh"}, "token must be a string"),
        ({"type": "refresh", "token": ""}, "token must be a non-empty string"),
    ],
)
def test_a_command_with_a_missing_or_wrong_field_is_bad_request_naming_the_field(
    frame: dict[str, Any], says: str
) -> None:
    error = refusal({**frame, "ref": "r"})
    assert error.code == "bad_request" and error.ref == "r"
    assert says in error.message


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ('{"type": "ping"', "not valid JSON"),
        ('{"type": "ping"} {"type": "ping"}', "not valid JSON"),
        ('{"type": "ping", "type": "join"}', "duplicate keys"),
        ('{"type": "ping", "n": NaN}', "NaN is not allowed"),
        ('{"type": "ping", "n": Infinity}', "Infinity is not allowed"),
        ('{"type": "ping", "s": "\\ud800"}', "lone surrogate"),
        ('{"\\udc00": 1}', "lone surrogate"),
        ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
        ('{"a":' * 5000 + "1" + "}" * 5000, f"deeper than {MAX_DEPTH}"),
    ],
)
def test_text_the_strict_parser_refuses_is_bad_request_saying_why(frame: str, says: str) -> None:
    error = refusal(frame)
    assert error.code == "bad_request" and error.ref is None
    assert says in error.message


def test_nesting_up_to_the_limit_is_accepted() -> None:
    nested: Any = 1
    for _ in range(MAX_DEPTH - 1):
        nested = {"a": nested}
    assert parse({"type": "ping", "deep": nested}) == Ping()


def test_a_binary_frame_is_bad_request() -> None:
    error = refusal(b'{"type": "ping"}')
    assert error.code == "bad_request" and "binary" in error.message


@pytest.mark.parametrize(
    "frame", ["", "   ", "1", '"ping"', "null", "[]", '[{"type": "ping"}]', "x{", "[" * 100_000]
)
def test_a_frame_that_does_not_start_as_an_object_is_refused_without_being_parsed(frame: str) -> None:
    """Whatever follows, it cannot be one object: even 100,000 open brackets cost one regex match."""
    error = refusal(frame)
    assert (error.code, error.message) == ("bad_request", "a frame must hold one JSON object")


# --- ref ----------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["", "r" * MAX_REF_LENGTH, 0, -5, 2**70, None])
def test_a_ref_is_a_short_string_or_any_integer_and_is_carried_by_the_command(ref: Any) -> None:
    assert parse({"type": "ping", "ref": ref}) == Ping(ref)


@pytest.mark.parametrize("ref", ["r" * (MAX_REF_LENGTH + 1), True, False, 1.5, [1], {"a": 1}])
def test_a_bad_ref_is_bad_request_without_a_ref(ref: Any) -> None:
    error = refusal({"type": "ping", "ref": ref})
    assert error.code == "bad_request" and error.ref is None
    assert "ref must be" in error.message


def test_a_bad_ref_is_reported_before_anything_else_about_the_command() -> None:
    error = refusal({"type": "dance", "ref": True})
    assert error.code == "bad_request" and "ref" in error.message


# --- frame_size and ref_of: what the flood limit reads before parsing ----------


def test_frame_size_counts_bytes_as_sent_on_the_wire() -> None:
    assert frame_size('{"type":"ping"}') == 15
    assert frame_size(b"\x00\x01\x02") == 3
    assert frame_size("é😀") == len("é😀".encode()) == 6
    assert frame_size("\ud800") == 3, "a lone surrogate is counted, not an error"


def test_ref_of_reads_the_ref_of_a_small_frame_even_when_the_command_is_refused() -> None:
    assert ref_of(json.dumps({"type": "group", "room_id": "r", "content": "hi", "ref": "r9"})) == "r9"
    assert ref_of(json.dumps({"type": "dance", "ref": 4})) == 4
    assert ref_of(json.dumps({"type": "group", "room_id": "r", "content": "x" * 300, "ref": 1})) == 1


def test_ref_of_gives_none_for_what_it_should_not_or_cannot_read() -> None:
    big = json.dumps({"type": "ping", "ref": "r", "pad": "x" * REF_READ_MAX})
    assert len(big) > REF_READ_MAX and ref_of(big) is None
    assert ref_of(b'{"type": "ping", "ref": "r"}') is None
    assert ref_of('{"type": "ping", "ref": true}') is None
    assert ref_of('{"type": "ping", "ref": "r"') is None
    head, tail = '{"ref": "r", "pad": "', '"}'
    exactly = head + "x" * (REF_READ_MAX - len(head) - len(tail)) + tail
    assert len(exactly) == REF_READ_MAX and ref_of(exactly) == "r"
    assert ref_of(exactly.replace('"r"', '"rr"')) is None, "one character over"
