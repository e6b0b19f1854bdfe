"""The flood limit's arithmetic, with explicit times (the session test covers the wire)."""

from __future__ import annotations

from actors.flood import FloodLimit, FloodSettings


def test_a_burst_is_allowed_then_frames_at_the_refill_rate() -> None:
    limit = FloodLimit(FloodSettings(rate=2.0, burst=3), now=0.0)
    assert [limit.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow(0.4) is False  # 0.8 of a token
    assert limit.allow(0.5) is True  # 1.0
    assert limit.allow(0.5) is False


def test_a_quiet_spell_refills_the_bucket_no_further_than_the_burst() -> None:
    limit = FloodLimit(FloodSettings(rate=10.0, burst=2), now=0.0)
    assert limit.allow(0.0) and limit.allow(0.0)
    assert [limit.allow(100.0) for _ in range(3)] == [True, True, False]


def test_refused_frames_do_not_cost_tokens() -> None:
    limit = FloodLimit(FloodSettings(rate=1.0, burst=1), now=0.0)
    assert limit.allow(0.0)
    assert not any(limit.allow(0.1 * i) for i in range(1, 10))  # 0.9 s of refusals
    assert limit.allow(1.0)


def test_bytes_are_charged_as_well_as_frames() -> None:
    limit = FloodLimit(
        FloodSettings(rate=100.0, burst=100, bytes_per_second=1000.0, byte_burst=3000), now=0.0
    )
    assert limit.allow(0.0, 2000) and limit.allow(0.0, 1000)
    assert not limit.allow(0.0, 1)  # frames left, bytes not
    assert not limit.allow(0.5, 600)  # 500 bytes back
    assert limit.allow(0.6, 600)


def test_a_frame_larger_than_what_is_left_does_not_spend_it() -> None:
    limit = FloodLimit(FloodSettings(rate=100.0, burst=100, bytes_per_second=1.0, byte_burst=1000), now=0.0)
    assert not limit.allow(0.0, 1001)
    assert limit.allow(0.0, 1000)
