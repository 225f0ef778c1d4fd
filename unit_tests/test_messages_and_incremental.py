"""messages (a substream of conversations) and incremental syncs that re-read only what changed."""

import random

import pytest
from airbyte_cdk.models import SyncMode

from .conftest import conversation, handed_out, last_state, make_config, message, record_ids, run_read, state_from
from .test_analytics_streams import today  # noqa: F401 - the fixture that freezes the manifest's clock

INC = SyncMode.incremental


def day(n: int, minute: int = 0) -> str:
    # Minutes apart: airbyte-cdk re-reads a lookback window (the last sync's duration, at least 1 s)
    # below the saved cursor, which would otherwise catch the neighbours of the boundary message.
    return f"2024-03-{n:02d} 10:{minute:02d}:00.000000+00:00"


def seed(partoo, conversations=6, per_conversation=3):
    """Conversation c has messages on day c, minutes 0, 1, 2...; its last activity is its last message."""
    partoo.conversations, partoo.messages = [], {}
    for c in range(1, conversations + 1):
        msgs = [message(c * 100 + k, c, day(c, k)) for k in range(per_conversation)]
        partoo.messages[c] = msgs
        partoo.conversations.append(conversation(c, last=msgs[-1]["date"]))
    # Partoo documents no order: serve the list shuffled.
    random.Random(4).shuffle(partoo.conversations)


def add_messages(partoo, cid, *dates):
    new = [message(cid * 100 + 50 + i, cid, d) for i, d in enumerate(dates)]
    partoo.messages.setdefault(cid, []).extend(new)
    partoo.conversations = [c for c in partoo.conversations if c["id"] != cid] + [conversation(cid, last=new[-1]["date"])]
    return [m["id"] for m in new]


def break_conversation(partoo, requests_mock, cid):
    """Messages of conversation `cid` answer HTTP 400 (which fails the sync) until the returned
    function is called; the mock's history starts afresh then."""
    original = partoo._messages

    def failing(request, context):
        if request.qs["conversation_id"] == [str(cid)]:
            context.status_code = 400
            return {"errors": {"json": "boom"}}
        return original(request, context)

    requests_mock.get(f"{partoo.base}/messages", json=failing)

    def repair():
        requests_mock.get(f"{partoo.base}/messages", json=original)
        requests_mock.reset_mock()

    return repair


def test_messages_are_read_for_every_conversation_with_its_id(partoo):
    seed(partoo, conversations=4)
    output = run_read(make_config(), "messages")
    assert sorted(record_ids(output, "messages")) == sorted(m["id"] for ms in partoo.messages.values() for m in ms)
    asked = sorted(int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages"))
    assert asked == [1, 2, 3, 4]
    assert all(r.qs["per_page"] == ["100"] for r in partoo.requests("/messages"))


def test_long_conversations_are_paginated(partoo):
    seed(partoo, conversations=1, per_conversation=250)
    output = run_read(make_config(), "messages")
    assert len(set(record_ids(output, "messages"))) == 250
    assert [r.qs.get("cursor") for r in partoo.requests("/messages")] == [None, ["off-100"], ["off-200"]]


def test_a_conversation_deleted_before_its_messages_is_skipped_with_a_warning(partoo):
    seed(partoo, conversations=3)
    partoo.missing = {2}
    output = run_read(make_config(), "messages")
    assert sorted({m.record.data["conversation_id"] for m in output.records}) == [1, 3]
    assert not output.errors
    assert output.is_in_logs("no longer exists on Partoo")


def test_first_incremental_sync_emits_everything_and_small_state(partoo):
    seed(partoo, conversations=6)
    output = run_read(make_config(), "conversations", "messages", mode=INC)
    assert len(record_ids(output, "conversations")) == 6
    assert len(record_ids(output, "messages")) == 18
    assert last_state(output, "conversations") == {"last_activity_at": "2024-03-06 10:02:00.000000+0000"}
    messages_state = last_state(output, "messages")
    assert messages_state["state"] == {"date": "2024-03-06 10:02:00.000000+0000"}
    assert messages_state["parent_state"] == {"conversations": {"last_activity_at": "2024-03-06 10:02:00.000000+0000"}}
    assert "states" not in messages_state  # no per-conversation state


def test_state_stays_the_same_size_however_many_conversations(partoo):
    seed(partoo, conversations=3)
    small = last_state(run_read(make_config(), "messages", mode=INC), "messages")
    seed(partoo, conversations=60)
    large = last_state(run_read(make_config(), "messages", mode=INC), "messages")
    for state in (small, large):  # the list's order proof: one date or none, depending on its order, not its size
        proof = state["parent_state"].pop("conversation_list", {"newest_first_at": ""})
        assert set(proof) == {"newest_first_at"}
    assert abs(len(str(large)) - len(str(small))) < 10


def test_second_sync_emits_only_what_changed_with_few_requests(partoo, requests_mock):
    seed(partoo, conversations=6)
    first = run_read(make_config(), "conversations", "messages", mode=INC)
    state = state_from(first, "conversations") + state_from(first, "messages")
    new_ids = add_messages(partoo, 1, day(10)) + add_messages(partoo, 2, day(11)) + add_messages(partoo, 3, day(12))
    partoo.conversations.append(conversation(7, last=day(13)))
    partoo.messages[7] = [message(701, 7, day(13))]
    requests_mock.reset_mock()

    second = run_read(make_config(), "conversations", "messages", mode=INC, state=state)

    # Conversation 6 holds the saved cursor: the boundary is emitted again rather than risk losing it.
    assert sorted(record_ids(second, "conversations")) == [1, 2, 3, 6, 7]
    assert sorted(record_ids(second, "messages")) == sorted(new_ids + [701, 602])
    # the one page of the list, at most once per stream that reads it (nothing is cached: each stream
    # asks the API), then only the active conversations' messages
    assert 1 <= len(partoo.requests("/conversations")) <= 2
    assert sorted(int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages")) == [1, 2, 3, 6, 7]
    assert last_state(second, "conversations") == {"last_activity_at": "2024-03-13 10:00:00.000000+0000"}


def test_a_quiet_sync_costs_the_list_and_the_boundary_conversation(partoo, requests_mock):
    seed(partoo, conversations=30)
    first = run_read(make_config(), "messages", mode=INC)
    requests_mock.reset_mock()
    second = run_read(make_config(), "messages", mode=INC, state=state_from(first, "messages"))
    assert record_ids(second, "messages") == [3002]  # the boundary message, at-least-once
    assert len(partoo.requests("/conversations")) == 1
    assert len(partoo.requests("/messages")) == 1


def test_start_date_filters_records_and_skips_old_conversations(partoo):
    seed(partoo, conversations=6)
    output = run_read(make_config(start_date="2024-03-04"), "conversations", "messages", mode=INC)
    assert sorted(record_ids(output, "conversations")) == [4, 5, 6]
    assert sorted({m.record.data["conversation_id"] for m in output.records if m.record.stream == "messages"}) == [4, 5, 6]
    assert sorted(int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages")) == [4, 5, 6]


def test_start_date_applies_to_full_refresh_too(partoo):
    seed(partoo, conversations=6)
    output = run_read(make_config(start_date="2024-03-05T10:00:30Z"), "messages")
    assert sorted(record_ids(output, "messages")) == [501, 502, 600, 601, 602]


def test_boundary_message_equal_to_the_cursor_is_emitted_again(partoo):
    seed(partoo, conversations=2)
    first = run_read(make_config(), "messages", mode=INC)
    # a new message stamped exactly at the saved cursor, in the conversation that holds it
    partoo.messages[2].append(message(299, 2, day(2, 2)))
    second = run_read(make_config(), "messages", mode=INC, state=state_from(first, "messages"))
    assert sorted(record_ids(second, "messages")) == [202, 299]


def test_a_sync_interrupted_midway_and_resumed_from_its_last_state_loses_no_message(partoo, requests_mock):
    seed(partoo, conversations=8)
    everything = sorted(m["id"] for ms in partoo.messages.values() for m in ms)
    repair = break_conversation(partoo, requests_mock, 5)
    first = run_read(make_config(), "messages", mode=INC, expecting_exception=True)
    assert first.errors
    # the interrupted sync saved a position (without one, the resume would be a full re-sync, which
    # trivially loses nothing)...
    resumed_from = state_from(first, "messages")
    assert last_state(first, "messages")["parent_state"]["conversations"]["last_activity_at"] > day(1)

    repair()
    second = run_read(make_config(), "messages", mode=INC, state=resumed_from)
    # ...the resume starts from it, not over...
    asked = set(int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages"))
    assert 5 in asked and not asked & {1, 2, 3}
    # ...and together the two syncs emitted every message
    emitted = set(record_ids(first, "messages")) | set(record_ids(second, "messages"))
    assert sorted(emitted) == everything


def messages_states(output):
    return [m.state.stream.stream_state.__dict__ for m in output.state_messages
            if m.state.stream.stream_descriptor.name == "messages"]


def asked_conversations(partoo):
    return [int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages")]


def test_the_whole_list_is_read_before_any_message_is_requested(partoo, requests_mock):
    # Every listed last activity is then older than every messages request, so a message posted after
    # its conversation was read is newer than the saved state, and the next sync reads it.
    seed(partoo, conversations=7)
    partoo.page_size = 2
    run_read(make_config(_partoo_page_size=2), "messages", mode=INC)
    paths = [r.path.rsplit("/", 1)[-1] for r in requests_mock.request_history]
    assert paths[:4] == ["conversations"] * 4  # pages of 2: 7 conversations
    assert set(paths[4:]) == {"messages"}
    assert sorted(set(asked_conversations(partoo))) == [1, 2, 3, 4, 5, 6, 7]


# Two workers (the fewest the spec allows) read two conversations at once, and often send a conversation's
# request after the next one's: these tests take the order in which the conversations were handed to the
# workers from the read's slices (conftest.handed_out), and count the requests as a multiset.

def test_messages_are_read_oldest_conversation_first(partoo):
    seed(partoo, conversations=8)  # listed shuffled
    output = run_read(make_config(num_workers=2), "messages", mode=INC, debug=True)
    assert handed_out(output) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert sorted(asked_conversations(partoo)) == [1, 2, 3, 4, 5, 6, 7, 8]  # each once


def test_state_is_checkpointed_as_conversations_are_done(partoo, checkpoint_clock):
    seed(partoo, conversations=5)
    output = run_read(make_config(num_workers=2), "messages", mode=INC)
    states = messages_states(output)
    saved = [s["parent_state"]["conversations"]["last_activity_at"] for s in states]
    position_of = {day(c, 2).replace("+00:00", "+0000"): c for c in (1, 2, 3, 4, 5)}
    # Checkpoints during the sync, then the final one. How many depends on the order in which the two
    # workers finish (airbyte-cdk checkpoints when a conversation is done and every older one is too).
    assert len(states) >= 2 and saved[-1] == saved[-2] == day(5, 2).replace("+00:00", "+0000")
    assert all(position in position_of for position in saved)
    assert saved == sorted(saved)  # never moves back
    # Never ahead of the conversations read: each checkpoint comes after every message of its conversation
    # and of every older one.
    emitted = set()
    for item in output.get_message_iterator():
        if item.type.value == "RECORD" and item.record.stream == "messages":
            emitted.add(item.record.data["id"])
        elif item.type.value == "STATE" and item.state.stream.stream_descriptor.name == "messages":
            done = position_of[item.state.stream.stream_state.__dict__["parent_state"]["conversations"]["last_activity_at"]]
            assert {m["id"] for c in range(1, done + 1) for m in partoo.messages[c]} <= emitted
    assert all("state" not in s for s in states[:-1])  # no message cursor before the end
    assert states[-1]["state"] == {"date": "2024-03-05 10:02:00.000000+0000"}


def test_an_interrupted_sync_resumes_after_the_conversations_already_read(partoo, requests_mock, checkpoint_clock):
    seed(partoo, conversations=8)
    everything = sorted(m["id"] for ms in partoo.messages.values() for m in ms)
    repair = break_conversation(partoo, requests_mock, 6)
    first = run_read(make_config(num_workers=2), "messages", mode=INC, expecting_exception=True, debug=True)
    assert first.errors
    assert handed_out(first)[:6] == [1, 2, 3, 4, 5, 6]
    assert {1, 2, 3, 4, 5, 6} <= set(asked_conversations(partoo))

    repair()
    second = run_read(make_config(num_workers=2), "messages", mode=INC, state=state_from(first, "messages"),
                      debug=True)

    # conversation 5 holds the saved position (the boundary is read again); 1 to 4 are not asked again
    assert handed_out(second) == [5, 6, 7, 8]
    assert sorted(asked_conversations(partoo)) == [5, 6, 7, 8]
    assert sorted(set(record_ids(first, "messages")) | set(record_ids(second, "messages"))) == everything
    # and the resumed sync ends with the state of a complete one
    assert last_state(second, "messages")["parent_state"] == {"conversations": {"last_activity_at": "2024-03-08 10:02:00.000000+0000"}}


def test_a_resumed_sync_emits_every_message_of_the_conversations_left(partoo, requests_mock, checkpoint_clock):
    # A first sync is complete; new messages arrive in conversations 2 and 7; the second sync stops
    # at conversation 7; its resume must still emit conversation 7's new message, older than the
    # position saved by the interrupted sync.
    seed(partoo, conversations=8)
    first = run_read(make_config(num_workers=2), "messages", mode=INC)
    new_2 = add_messages(partoo, 2, day(20))
    new_7 = add_messages(partoo, 7, day(21))
    partoo.messages[9] = [message(901, 9, day(22))]
    partoo.conversations.append(conversation(9, last=day(22)))
    repair = break_conversation(partoo, requests_mock, 9)
    second = run_read(make_config(num_workers=2), "messages", mode=INC, state=state_from(first, "messages"),
                      expecting_exception=True)
    repair()
    third = run_read(make_config(num_workers=2), "messages", mode=INC, state=state_from(second, "messages"),
                     debug=True)

    assert handed_out(third) == [7, 9]
    assert sorted(asked_conversations(partoo)) == [7, 9]
    emitted = set(record_ids(second, "messages")) | set(record_ids(third, "messages"))
    assert set(new_2 + new_7 + [901]) <= emitted


def test_an_interrupted_concurrent_sync_resumes_without_losing_or_rereading_everything(partoo, requests_mock, checkpoint_clock):
    seed(partoo, conversations=30, per_conversation=2)
    everything = sorted(m["id"] for ms in partoo.messages.values() for m in ms)
    repair = break_conversation(partoo, requests_mock, 20)
    first = run_read(make_config(num_workers=8), "messages", mode=INC, expecting_exception=True)
    saved = last_state(first, "messages")["parent_state"]["conversations"]["last_activity_at"]
    done_before = int(saved[8:10])  # conversation c is active on day c

    repair()
    second = run_read(make_config(num_workers=8), "messages", mode=INC, state=state_from(first, "messages"))

    asked = sorted(set(asked_conversations(partoo)))
    assert 1 < done_before < 20
    assert asked == list(range(done_before, 31))  # nothing below the saved position, everything above it
    assert sorted(set(record_ids(first, "messages")) | set(record_ids(second, "messages"))) == everything


@pytest.fixture
def connector_clock(monkeypatch, today):
    """Set the connector's clock at a UTC moment: its manifest's macros (`today`) and the end of airbyte-cdk's
    cursors that have no end_datetime (the conversations' and the messages': now)."""
    from airbyte_cdk.sources.streams.concurrent.state_converters import datetime_stream_state_converter
    from airbyte_cdk.utils.datetime_helpers import ab_datetime_parse

    def set_at(moment: str) -> None:
        today(moment)
        monkeypatch.setattr(datetime_stream_state_converter, "ab_datetime_now", lambda: ab_datetime_parse(moment + "+00:00"))

    return set_at


def test_messages_dated_after_the_connectors_clock_are_read_by_a_later_sync(partoo, connector_clock):
    """Partoo dates a message with its own clock, which may run ahead of the connector's (by the clock skew of
    two machines). A conversation whose last message is dated after the connector's now is left for the next
    sync; the messages before that last one must not be lost meanwhile."""
    seed(partoo, conversations=2)
    connector_clock("2024-03-10T00:00:00")
    first = run_read(make_config(), "conversations", "messages", mode=INC)
    earlier, _ = add_messages(partoo, 1, day(20, 10), day(20, 40))  # the last one after the connector's 10:30
    add_messages(partoo, 2, day(20, 20))
    connector_clock("2024-03-20T10:30:00")
    second = run_read(make_config(), "conversations", "messages", mode=INC,
                      state=state_from(first, "conversations") + state_from(first, "messages"))
    connector_clock("2024-03-21T12:00:00")
    third = run_read(make_config(), "conversations", "messages", mode=INC,
                     state=state_from(second, "conversations") + state_from(second, "messages"))
    assert earlier in record_ids(second, "messages") + record_ids(third, "messages")
