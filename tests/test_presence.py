"""Who is connected (:class:`actors.registry.Presence`): sessions by user, without tasks or sockets."""

from __future__ import annotations

from actors.registry import Presence
from tests.in_memory import Member


def test_a_users_first_session_brings_them_online_and_a_second_does_not_again() -> None:
    presence, phone, laptop = Presence(), Member("alice", 1), Member("alice", 2)
    assert presence.add(phone.handle) is True
    assert presence.add(laptop.handle) is False
    assert presence.online() == [phone.user]
    assert presence.user_count == 1 and presence.session_count == 2


def test_only_a_users_last_session_takes_them_offline() -> None:
    presence, phone, laptop = Presence(), Member("alice", 1), Member("alice", 2)
    presence.add(phone.handle)
    presence.add(laptop.handle)
    assert presence.remove(laptop.handle) is False
    assert presence.online() == [phone.user]
    assert presence.remove(phone.handle) is True
    assert presence.online() == [] and presence.user_count == 0 and presence.session_count == 0


def test_removing_a_session_that_is_not_there_changes_nothing() -> None:
    presence, alice, bob = Presence(), Member("alice"), Member("bob")
    assert presence.remove(alice.handle) is False, "a user never seen"
    presence.add(alice.handle)
    assert presence.remove(Member("alice", 2).handle) is False, "another session of a user who is online"
    assert presence.online() == [alice.user]
    presence.add(bob.handle)
    assert presence.remove(bob.handle) is True
    assert presence.remove(bob.handle) is False, "removed twice"
    assert presence.online() == [alice.user]


def test_the_online_list_is_in_the_order_users_came_online() -> None:
    presence = Presence()
    carol, alice, bob = Member("carol"), Member("alice"), Member("bob")
    for member in (carol, alice, Member("carol", 2), bob):
        presence.add(member.handle)
    assert presence.online() == [carol.user, alice.user, bob.user]
    presence.remove(carol.handle)  # carol keeps her second session: she keeps her place
    assert presence.online() == [carol.user, alice.user, bob.user]
    presence.remove(alice.handle)
    presence.add(alice.handle)  # offline, then back: now the latest
    assert presence.online() == [carol.user, bob.user, alice.user]


def test_a_users_sessions_are_found_by_user_in_order_of_arrival() -> None:
    presence = Presence()
    phone, bob, laptop = Member("alice", 1), Member("bob"), Member("alice", 2)
    for member in (phone, bob, laptop):
        presence.add(member.handle)
    assert presence.sessions_of("alice") == [phone.handle, laptop.handle]
    assert presence.sessions_of("nobody") == []
    assert presence.all_sessions() == [phone.handle, laptop.handle, bob.handle]


def test_the_list_a_caller_gets_is_its_own() -> None:
    presence, alice = Presence(), Member("alice")
    presence.add(alice.handle)
    presence.sessions_of("alice").clear()
    presence.all_sessions().clear()
    assert presence.sessions_of("alice") == [alice.handle] and presence.session_count == 1
