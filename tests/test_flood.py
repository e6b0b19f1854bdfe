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
