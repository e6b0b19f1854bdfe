"""The Hypercorn patches hold only for the Hypercorn they were written against: this fails loudly otherwise.

The version range in pyproject.toml is the first guard; this is the second,
for an upgrade inside the range that moved something the patches replace.
"""

from __future__ import annotations

import pytest
from hypercorn.protocol import ws_stream
from hypercorn.trio import tcp_server

from transport import hypercorn_patches


def test_the_installed_hypercorn_has_every_part_the_patches_replace() -> None:
    hypercorn_patches.check_shape()


def test_a_part_gone_from_hypercorn_is_named_in_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(tcp_server.TCPServer, "_read_data")
    monkeypatch.delattr(ws_stream, "PerMessageDeflate")
    with pytest.raises(hypercorn_patches.HypercornShapeError) as refused:
        hypercorn_patches.install()
    assert "TCPServer._read_data" in str(refused.value)
    assert "ws_stream.PerMessageDeflate" in str(refused.value)


def test_installing_twice_changes_nothing_more() -> None:
    hypercorn_patches.install()
    patched = (
        tcp_server.TCPServer._read_data,
        tcp_server.TCPServer.protocol_send,
        ws_stream.WSStream.app_send,
    )
    hypercorn_patches.install()
    assert (
        tcp_server.TCPServer._read_data,
        tcp_server.TCPServer.protocol_send,
        ws_stream.WSStream.app_send,
    ) == patched
