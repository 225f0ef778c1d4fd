"""A conversation listed twice: Partoo's list moved while it was paged (a new message lifts a conversation
to another page), so one conversation came with two last activities. It must count with its newest."""

import json

import pytest
from airbyte_cdk.models import SyncMode

from .conftest import conversation, handed_out, last_state, make_config, message, record_ids, run_read, state_from

INC = SyncMode.incremental


def day(n: int) -> str:
    return f"2024-03-{n:02d} 10:00:00.000000+00:00"


def asked_conversations(partoo):
    return [int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages")]


@pytest.mark.parametrize("newest_listed", ["last", "first"])
def test_a_conversation_listed_older_and_newer_than_the_state_has_its_new_messages_read(partoo, requests_mock, newest_listed):
    # State S: a complete sync of conversations 1, 2, 3 (active on days 1, 2, 3).
    partoo.conversations = [conversation(c, last=day(c)) for c in (1, 2, 3)]
    partoo.messages = {c: [message(c * 100, c, day(c))] for c in (1, 2, 3)}
    first = run_read(make_config(), "messages", mode=INC)
    assert sorted(record_ids(first, "messages")) == [100, 200, 300]

    # Then conversation 1 gets a message on day 10 while the list is paged: it is listed on the first
    # page with its activity older than S and on the second one with its new activity, newer than S
    # (or the other way round). Every page keeps a conversation active since S.
    partoo.messages[1].append(message(150, 1, day(10)))
    old, new = conversation(1, last=day(1)), conversation(1, last=day(10))
    if newest_listed == "first":
        old, new = new, old
    partoo.conversations = [old, conversation(3, last=day(3)), conversation(2, last=day(2)), new]
    partoo.page_size = 2
    requests_mock.reset_mock()

    second = run_read(make_config(_partoo_page_size=2), "messages", mode=INC, state=state_from(first, "messages"))

    assert not second.errors
    # The list really was read in pages of two; listing 1 twice shows that it moved, so it is read again
    # (three passes: this mocked list shows the same duplicate every time; see test_list_movement.py).
    assert len(partoo.requests("/conversations")) == 6
    assert asked_conversations(partoo).count(1) == 1  # its messages are requested, once
    assert 150 in record_ids(second, "messages")  # and its new message is emitted
    saved = last_state(second, "messages")["parent_state"]["conversations"]["last_activity_at"]
    assert saved == "2024-03-10 10:00:00.000000+0000"


@pytest.mark.parametrize("newest_listed", ["last", "first"])
def test_a_conversation_listed_twice_is_read_once_in_the_place_of_its_newest_activity(partoo, newest_listed):
    # Conversations 1 to 4 active on March 1 to 4; conversation 9 listed with February 29 and March 20.
    # Messages are read oldest activity first (that is what lets an interrupted sync resume), so 9 is
    # read last: read first, its place would claim an activity it no longer has.
    partoo.conversations = [conversation(c, last=day(c)) for c in (1, 2, 3, 4)]
    partoo.messages = {c: [message(c * 100, c, day(c))] for c in (1, 2, 3, 4)}
    partoo.messages[9] = [message(900, 9, day(1)), message(901, 9, day(20))]
    old, new = conversation(9, last="2024-02-29 10:00:00.000000+00:00"), conversation(9, last=day(20))
    if newest_listed == "first":
        old, new = new, old
    partoo.conversations = [old] + partoo.conversations + [new]

    output = run_read(make_config(num_workers=2), "messages", mode=INC, debug=True)

    assert handed_out(output) == [1, 2, 3, 4, 9]  # in the order of the two workers' hands (conftest.handed_out)
    assert sorted(asked_conversations(partoo)) == [1, 2, 3, 4, 9]  # each once
    assert sorted(record_ids(output, "messages")) == [100, 200, 300, 400, 900, 901]
    assert last_state(output, "messages")["parent_state"] == {"conversations": {"last_activity_at": "2024-03-20 10:00:00.000000+0000"}}


def test_the_conversations_stream_emits_a_conversation_once_per_activity_over_every_pass(partoo):
    # Conversation 1 is listed with two activities, 2 and 3 once each, in pages of two; the duplicate makes
    # the read go over the list three times (this mocked list shows it every time). Each (id, activity) is
    # emitted once: a full refresh into Overwrite would otherwise load it twice.
    partoo.conversations = [conversation(1, last=day(1)), conversation(3, last=day(3)), conversation(2, last=day(2)),
                            conversation(1, last=day(10))]
    partoo.page_size = 2

    output = run_read(make_config(_partoo_page_size=2), "conversations")

    assert not output.errors
    assert len(partoo.requests("/conversations")) == 6  # three passes of two pages
    emitted = [(r.record.data["id"], r.record.data["last_activity_at"]) for r in output.records]
    assert sorted(emitted) == [(1, day(1)), (1, day(10)), (2, day(2)), (3, day(3))]


def test_the_messages_of_a_conversation_listed_with_the_same_activity_in_every_pass_are_read_once(partoo):
    # The messages' parent reads the list without the once-per-activity memory (it would hold a second
    # entry per conversation): the partitions still come once per conversation.
    partoo.conversations = [conversation(c, last=day(c)) for c in (4, 3, 2, 1)] + [conversation(3, last=day(3))]
    partoo.messages = {c: [message(c * 100, c, day(c))] for c in (1, 2, 3, 4)}
    partoo.page_size = 2

    output = run_read(make_config(_partoo_page_size=2), "messages")

    assert not output.errors
    assert len(partoo.requests("/conversations")) == 9  # three passes of three pages
    assert sorted(asked_conversations(partoo)) == [1, 2, 3, 4]
    assert sorted(record_ids(output, "messages")) == [100, 200, 300, 400]


def test_positions_saved_while_partitions_are_handed_out_are_the_instants_of_listed_activities(partoo, checkpoint_clock):
    # Activities with an offset other than UTC: the position saved during the sync is the same instant as
    # the latest activity handed out (written in UTC), never another instant. checkpoint_clock lets
    # airbyte-cdk save a state after each partition (it would wait 600 s of wall time).
    from datetime import datetime, timezone

    activities = {c: f"2024-03-0{c} 12:00:00.250000+02:00" for c in (1, 2, 3)}
    partoo.conversations = [conversation(c, last=activities[c]) for c in (3, 1, 2)]
    partoo.messages = {c: [message(c * 100, c, activities[c])] for c in (1, 2, 3)}

    output = run_read(make_config(), "messages", mode=INC)

    assert not output.errors
    parse = datetime.fromisoformat
    states = [json.loads(json.dumps(m.state.stream.stream_state.__dict__, default=lambda o: o.__dict__))
              for m in output.state_messages if m.state.stream.stream_descriptor.name == "messages"]
    written = [s["parent_state"]["conversations"]["last_activity_at"] for s in states if s.get("parent_state")]
    positions = [parse(text) for text in written]
    assert positions and set(positions) <= {parse(a) for a in activities.values()}
    # Written in the state's format: in UTC while partitions are handed out (ConversationsByLastActivity), with
    # the activity's own offset at the end (airbyte-cdk's parent cursor).
    fmt = "%Y-%m-%d %H:%M:%S.%f%z"
    utc = {parse(a).astimezone(timezone.utc).strftime(fmt) for a in activities.values()}
    assert set(written) - utc <= {parse(a).strftime(fmt) for a in activities.values()}, written
    assert set(written) & utc, written
    assert positions[-1] == parse(activities[3])
