"""The room's roster (:class:`actors.room_state.RoomState`): who is in, by session and by user, without tasks or sockets."""

from __future__ import annotations

from actors.room_state import Joined, Left, RoomState
from tests.in_memory import Member
from wire.shapes import RoomInfo


def _room() -> RoomState:
    return RoomState(RoomInfo("lobby", "Lobby", 0))


def test_a_users_first_session_joins_as_first_and_is_listed_online() -> None:
    state, alice = _room(), Member("alice")
    assert state.join(alice.handle) is Joined.FIRST
    assert state.is_member(alice.session_id)
    assert state.online() == [alice.user] and state.online_count == 1


def test_the_same_session_joining_again_changes_nothing() -> None:
    state, alice = _room(), Member("alice")
    state.join(alice.handle)
    assert state.join(alice.handle) is Joined.AGAIN
    assert list(state.members) == [alice.session_id] and state.online() == [alice.user]


def test_a_second_session_of_a_present_user_joins_without_listing_them_twice() -> None:
    state, phone, laptop = _room(), Member("alice", 1), Member("alice", 2)
    state.join(phone.handle)
    assert state.join(laptop.handle) is Joined.ANOTHER_SESSION
    assert set(state.members) == {phone.session_id, laptop.session_id}
    assert state.online() == [phone.user] and state.online_count == 1


def test_users_are_listed_in_the_order_they_arrived() -> None:
    state = _room()
    carol, alice, bob = Member("carol"), Member("alice"), Member("bob")
    for member in (carol, alice, bob, Member("carol", 2)):
        state.join(member.handle)
    assert state.online() == [carol.user, alice.user, bob.user]


def test_leaving_a_room_one_is_not_in_is_not_member() -> None:
    state, alice = _room(), Member("alice")
    assert state.leave(alice.session_id) is Left.NOT_MEMBER
    state.join(alice.handle)
    assert state.leave("session:alice:9") is Left.NOT_MEMBER
    assert state.online() == [alice.user]


def test_a_user_stays_online_while_another_of_their_sessions_remains() -> None:
    state, phone, laptop = _room(), Member("alice", 1), Member("alice", 2)
    state.join(phone.handle)
    state.join(laptop.handle)
    assert state.leave(phone.session_id) is Left.ANOTHER_SESSION_REMAINS
    assert not state.is_member(phone.session_id) and state.is_member(laptop.session_id)
    assert state.online() == [laptop.user]


def test_the_last_session_leaving_is_last_and_the_user_goes_offline() -> None:
    state, phone, laptop, bob = _room(), Member("alice", 1), Member("alice", 2), Member("bob")
    for member in (phone, laptop, bob):
        state.join(member.handle)
    state.leave(laptop.session_id)
    assert state.leave(phone.session_id) is Left.LAST
    assert state.online() == [bob.user] and state.online_count == 1
    assert state.leave(phone.session_id) is Left.NOT_MEMBER, "leaving twice is not leaving again"


def test_a_user_who_left_and_came_back_joins_as_first_and_is_listed_last() -> None:
    state, alice, bob = _room(), Member("alice"), Member("bob")
    state.join(alice.handle)
    state.join(bob.handle)
    state.leave(alice.session_id)
    assert state.join(alice.handle) is Joined.FIRST
    assert state.online() == [bob.user, alice.user]


def test_check_after_a_crash_mid_leave_forgets_a_user_whose_sessions_are_gone() -> None:
    """A crash between removing the member and updating the per-user index leaves them disagreeing."""
    state, alice, bob = _room(), Member("alice"), Member("bob")
    state.join(alice.handle)
    state.join(bob.handle)
    del state.members[alice.session_id]  # what the crashed code had done so far
    state.check()
    assert state.online() == [bob.user] and state.online_count == 1
    assert state.join(alice.handle) is Joined.FIRST, "alice coming back is announced again"


def test_check_after_a_crash_mid_join_lists_a_member_the_index_had_not_seen() -> None:
    state, alice, bob = _room(), Member("alice"), Member("bob")
    state.join(alice.handle)
    state.members[bob.session_id] = bob.handle  # the crashed code got this far
    state.check()
    assert state.online() == [alice.user, bob.user]
    assert state.join(Member("bob", 2).handle) is Joined.ANOTHER_SESSION
    assert state.leave(bob.session_id) is Left.ANOTHER_SESSION_REMAINS


def test_check_keeps_a_consistent_roster_as_it_was() -> None:
    state, phone, laptop, bob = _room(), Member("alice", 1), Member("alice", 2), Member("bob")
    for member in (phone, bob, laptop):
        state.join(member.handle)
    state.check()
    assert state.online() == [phone.user, bob.user] and len(state.members) == 3
    assert state.leave(phone.session_id) is Left.ANOTHER_SESSION_REMAINS
    assert state.leave(laptop.session_id) is Left.LAST


def test_a_recovering_session_is_a_member_and_online_but_receives_nothing_live_yet() -> None:
    state, alice = _room(), Member("alice")
    assert state.join(alice.handle, recovering=True) is Joined.FIRST
    assert state.is_member(alice.session_id) and state.occupied
    assert state.online() == [alice.user]
    assert alice.session_id not in state.members  # fan-out skips it until its reply is out
    assert state.join(alice.handle) is Joined.AGAIN


def test_going_live_moves_a_recovering_session_to_the_members() -> None:
    state, alice = _room(), Member("alice")
    state.join(alice.handle, recovering=True)
    assert state.go_live(alice.session_id) is True
    assert list(state.members) == [alice.session_id] and not state.recovering
    assert state.go_live(alice.session_id) is False  # once


def test_a_recovering_session_that_leaves_does_not_go_live_afterwards() -> None:
    state, alice = _room(), Member("alice")
    state.join(alice.handle, recovering=True)
    assert state.leave(alice.session_id) is Left.LAST
    assert state.go_live(alice.session_id) is False
    assert not state.occupied and state.online() == []


def test_check_after_a_crash_counts_recovering_sessions_too() -> None:
    state, phone, laptop = _room(), Member("alice", 1), Member("alice", 2)
    state.join(phone.handle)
    state.join(laptop.handle, recovering=True)
    state.check()
    assert state.leave(phone.session_id) is Left.ANOTHER_SESSION_REMAINS
    assert state.leave(laptop.session_id) is Left.LAST
