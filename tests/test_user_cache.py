"""The user cache keeps the users asked for lately, and no more than its capacity."""

from __future__ import annotations

from storage.user_cache import UserCache
from wire.shapes import User


def test_the_least_recently_used_user_is_forgotten_past_the_capacity() -> None:
    cache = UserCache(capacity=2)
    ann, bob, cy = User("a", "ann"), User("b", "bob"), User("c", "cy")
    cache.put(ann)
    cache.put(bob)
    assert cache.get("a") == ann  # ann is now the most recent
    cache.put(cy)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") == ann and cache.get("c") == cy
