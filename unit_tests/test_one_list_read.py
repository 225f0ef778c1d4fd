"""The conversation list costs what changed (#13): on a list proven newest first, incremental syncs stop at the
first page older than the saved position. Since 0.7.0 each of the two streams reads the list itself."""

import datetime as dt
import json
import random
import threading
from typing import Any, Dict, List

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.state_builder import StateBuilder

from .conftest import conversation, make_config, message, record_ids, run_read, state_from
from .test_list_movement import LivePartoo, cursors_sent, inbox, minute

INC = SyncMode.incremental
PAGES = 25  # 2,500 conversations, 100 a page


def both_states(output: Any) -> List[Any]:
    return state_from(output, "conversations") + state_from(output, "messages")


def proof(output: Any) -> Any:
    states = [m.state for m in output.state_messages if m.state.stream.stream_descriptor.name == "messages"]
    parent = states[-1].stream.stream_state.__dict__["parent_state"]
    parent = parent if isinstance(parent, dict) else parent.__dict__
    order = parent.get("conversation_list")
    return (order if isinstance(order, dict) else order.__dict__)["newest_first_at"] if order else None


def synced(proven: bool = True, at: int = 2500) -> List[Any]:
    """Both streams' states after a complete sync of inbox(partoo, at) (its newest activity: minute `at`),
    as test_a_complete_read_of_a_list_newest_first_is_remembered_in_the_messages_state checks a real sync
    writes them; with the order proof when `proven`. (A real first sync of 2,500 conversations costs 2,500
    messages requests: too slow to repeat in every test.)"""
    position = minute(at).replace("+00:00", "+0000")
    parent: Dict[str, Any] = {"conversations": {"last_activity_at": position}}
    if proven:
        parent["conversation_list"] = {"newest_first_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f%z")}
    messages = {"use_global_cursor": True, "state": {"date": position}, "lookback_window": 1, "parent_state": parent}
    return StateBuilder().with_stream_state("conversations", {"last_activity_at": position}).with_stream_state(
        "messages", messages).build()


def sync(partoo: LivePartoo, state: Any = None, **config: Any) -> Any:
    partoo.mocker.reset_mock()
    partoo.list_requests = 0
    return run_read(make_config(**config), "conversations", "messages", mode=INC, state=state)


def proof_of(state: List[Any]) -> str:
    return state[1].stream.stream_state.__dict__["parent_state"]["conversation_list"]["newest_first_at"]


def touch(partoo: LivePartoo, cid: int, minutes: int, to_top: bool = True) -> None:
    """A new message in conversation cid, dated `minutes`; in a newest-first list it moves to the top."""
    if to_top:
        partoo.move_to_top(cid, minute(minutes))
        return
    date = minute(minutes)
    partoo.conversations = [conversation(cid, last=date) if c["id"] == cid else c for c in partoo.conversations]
    partoo.messages[cid].append(message(cid * 100 + 1, cid, date))


def test_a_quiet_incremental_sync_of_both_streams_reads_an_unordered_list_whole_once_per_stream(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    random.Random(3).shuffle(partoo.conversations)  # no order: never proven, always read whole

    second = sync(partoo, synced(proven=False))

    assert not second.errors
    assert cursors_sent(partoo).count(None) == 2
    assert len(partoo.requests("/conversations")) == 2 * PAGES
    assert len(partoo.requests("/conversations")) + len(partoo.requests("/messages")) <= 2 * PAGES + 2
    assert sorted(record_ids(second, "conversations")) == list(range(2440, 2501))  # the hour of lookback
    assert record_ids(second, "messages") == [250000]  # the boundary conversation's message, again


def test_a_complete_read_of_a_list_newest_first_is_remembered_in_the_messages_state(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 500)
    before = dt.datetime.now(dt.timezone.utc)
    first = sync(partoo)
    assert len(partoo.requests("/conversations")) == 2 * 5  # one read per stream
    saved = dt.datetime.strptime(proof(first), "%Y-%m-%d %H:%M:%S.%f%z")
    assert before - dt.timedelta(seconds=1) <= saved <= dt.datetime.now(dt.timezone.utc)
    expected = synced(at=500)  # the states the other tests start from
    assert [s.stream.stream_state.__dict__.keys() for s in both_states(first)] == \
        [s.stream.stream_state.__dict__.keys() for s in expected]
    messages_state = both_states(first)[1].stream.stream_state.__dict__
    assert messages_state["parent_state"]["conversations"] == expected[1].stream.stream_state.__dict__["parent_state"]["conversations"]
    assert messages_state["state"] == expected[1].stream.stream_state.__dict__["state"]

    random.Random(3).shuffle(partoo.conversations)  # a list out of order is never proven
    assert proof(sync(partoo)) is None


def test_a_quiet_sync_of_a_proven_list_costs_at_most_three_requests(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    state = synced()
    second = sync(partoo, state)

    assert not second.errors
    assert len(partoo.mocker.request_history) <= 3
    assert cursors_sent(partoo) == [None, None]  # each stream's page 1 reaches below its position minus the margin
    assert sorted(record_ids(second, "conversations")) == list(range(2440, 2501))
    assert record_ids(second, "messages") == [250000]
    assert proof(second) == proof_of(state)  # an early stop proves only what it read: the date stays

    third = sync(partoo, both_states(second))
    assert len(partoo.mocker.request_history) <= 3
    assert proof(third) == proof(second)


def test_an_incremental_sync_of_a_proven_list_reads_every_change_and_stops_after_them(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    state = synced()
    changed = random.Random(5).sample(range(1, 2400), 150)  # all over the list's 25 pages
    for n, cid in enumerate(changed):
        touch(partoo, cid, 3000 + n)

    second = sync(partoo, state)

    assert not second.errors
    assert set(record_ids(second, "conversations")) >= set(changed)
    new_messages = {cid * 100 + 1 for cid in changed}
    assert new_messages <= set(record_ids(second, "messages")) <= new_messages | {250000}
    # 150 changed conversations at the top, then the page that reaches below: 3 pages a stream, not 25.
    assert len(partoo.requests("/conversations")) == 2 * 3
    assert proof(second) == proof_of(state)


def test_a_page_out_of_order_makes_the_sync_read_the_rest_of_the_list_and_forget_the_proof(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    # Partoo stops listing newest first: two conversations get a message and stay in place, one on the first
    # page (the early stop sees it) and one near the bottom (seen once the rest of the list is read).
    touch(partoo, 2450, 4000, to_top=False)
    touch(partoo, 7, 4001, to_top=False)

    second = sync(partoo, synced())

    assert not second.errors
    assert len(partoo.requests("/conversations")) == 2 * PAGES  # the rest of the list, after the page out of order
    assert {7, 2450} <= set(record_ids(second, "conversations"))
    assert {701, 245001} <= set(record_ids(second, "messages"))
    assert proof(second) is None  # forgotten: the next sync reads the whole list

    third = sync(partoo, both_states(second))
    assert len(partoo.requests("/conversations")) == 2 * PAGES
    assert proof(third) is None  # (both are still out of place)


def test_a_change_out_of_order_below_an_early_stop_is_read_by_the_next_complete_read(requests_mock, sleeps):
    # The limit of an early stop: it checks the order of the pages it reads only. A conversation that gets a
    # message without moving up, below the pages read, waits for the next complete read of the list (at
    # most full_list_every_hours later), which finds it and forgets the proof.
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    touch(partoo, 7, 4000, to_top=False)

    second = sync(partoo, synced(), full_list_every_hours=1)
    assert cursors_sent(partoo) == [None, None] and 701 not in record_ids(second, "messages")

    state = both_states(second)
    parent = state[1].stream.stream_state.__dict__["parent_state"]
    an_hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1, seconds=1)
    parent["conversation_list"] = {"newest_first_at": an_hour_ago.strftime("%Y-%m-%d %H:%M:%S.%f%z")}
    third = sync(partoo, state, full_list_every_hours=1)

    assert len(partoo.requests("/conversations")) == 2 * PAGES
    assert 701 in record_ids(third, "messages") and 7 in record_ids(third, "conversations")
    assert proof(third) is None


def test_the_whole_list_is_read_again_once_the_proof_is_older_than_full_list_every_hours(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    state = synced()
    parent = state[1].stream.stream_state.__dict__["parent_state"]
    stale = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2, minutes=1)
    parent["conversation_list"] = {"newest_first_at": stale.strftime("%Y-%m-%d %H:%M:%S.%f%z")}

    second = sync(partoo, state, full_list_every_hours=2)

    assert len(partoo.requests("/conversations")) == 2 * PAGES
    assert proof(second) > stale.strftime("%Y-%m-%d %H:%M:%S.%f%z")  # proven again, now

    third = sync(partoo, both_states(second), full_list_every_hours=2)
    assert len(partoo.requests("/conversations")) == 2


def test_full_list_every_hours_0_reads_the_whole_list_on_every_sync(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    second = sync(partoo, synced(), full_list_every_hours=0)
    assert len(partoo.requests("/conversations")) == 2 * PAGES
    assert proof(second)  # proven again by this complete read, but never used to stop early


def test_a_live_inbox_during_an_early_stopped_read_loses_nothing(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    state = synced()
    for n, cid in enumerate(range(1000, 1150)):  # 150 changes since: the read needs 2 pages and a third
        touch(partoo, cid, 3000 + n)
    # While the read is at page 2: 20 (page 25) gets a message and 2499 (page 1, read) is deleted; the list
    # shifts under the read both ways.
    partoo.changes[2] = lambda: (touch(partoo, 20, 3500), partoo.delete(2499))

    second = sync(partoo, state)

    assert not second.errors
    emitted = set(record_ids(second, "messages"))
    assert {cid * 100 + 1 for cid in range(1000, 1150)} <= emitted
    assert 2001 in emitted  # the message that arrived during the read
    assert 20 in record_ids(second, "conversations")
    assert len(partoo.requests("/conversations")) < PAGES  # re-read passes stop early too


def test_a_malformed_page_is_retried(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 300)
    good = partoo._conversations
    served: List[str] = []

    def flaky(request: Any, context: Any) -> Any:
        if request.qs.get("cursor") == ["off-100"] and "off-100" not in served:
            served.append("off-100")
            context.headers["Content-Type"] = "text/html"
            return "<html>proxy error</html>"  # a 200 that is not a page: retried
        return json.dumps(good(request, context))

    requests_mock.get(f"{partoo.base}/conversations", text=flaky)
    output = sync(partoo)

    assert not output.errors
    assert sorted(record_ids(output, "conversations")) == list(range(1, 301))
    assert len(set(record_ids(output, "messages"))) == 300
    # 3 pages for each stream, plus the one retry of the malformed page
    assert sorted(map(str, cursors_sent(partoo))) == ["None", "None", "off-100", "off-100", "off-100", "off-200", "off-200"]


@pytest.mark.parametrize("workers", [2, 16])
def test_both_streams_read_the_list_with_any_number_of_workers(
    requests_mock, sleeps, workers
):
    # Partition generation (messages) and the conversations partition run on the same pool, with two workers
    # (the fewest the spec allows) too. The read runs in a thread, joined with a deadline (no sleeping: join
    # returns as soon as the read is done).
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 500)
    result: Dict[str, Any] = {}
    reader = threading.Thread(target=lambda: result.update(output=sync(partoo, num_workers=workers)), daemon=True)
    reader.start()
    reader.join(timeout=120)
    assert not reader.is_alive(), "the read hung"
    output = result["output"]
    assert sorted(record_ids(output, "conversations")) == list(range(1, 501))
    assert sorted(record_ids(output, "messages")) == [c * 100 for c in range(1, 501)]
    assert len(partoo.requests("/conversations")) == 2 * 5


def test_each_stream_stops_at_its_own_saved_position(requests_mock, sleeps):
    # conversations saved at minute 2500, the messages' place in the list at minute 2200 (an interrupted
    # sync, say): conversations stops at its first page (down to 2440, its hour of lookback); the messages'
    # read of the list goes on to the page reaching below 2140, an hour under its position.
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    state = synced()
    messages = state[1].stream.stream_state.__dict__
    messages["parent_state"]["conversations"] = {"last_activity_at": minute(2200).replace("+00:00", "+0000")}

    second = sync(partoo, state)

    assert not second.errors
    assert sorted(map(str, cursors_sent(partoo))) == ["None", "None", "off-100", "off-200", "off-300"]
    assert sorted(record_ids(second, "conversations")) == list(range(2440, 2501))
    assert sorted(int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages")) == list(range(2200, 2501))
    assert proof(second) == proof_of(state)


def test_one_stream_alone_stops_early_on_the_proof_the_messages_state_saved(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 2500)
    partoo.mocker.reset_mock()
    output = run_read(make_config(), "conversations", mode=INC, state=synced())
    assert cursors_sent(partoo) == [None]
    assert sorted(record_ids(output, "conversations")) == list(range(2440, 2501))


def test_the_package_adds_nothing_to_the_manifest_read():
    # The list's cost comes from the components the manifest names (ListOrderProof, the paginators, the messages'
    # router), so airbyte-cdk's manifest-only runner gets it too (integration_tests/test_quiet_sync_cost.py).
    from source_partoo.source import SourcePartoo

    assert "read" not in vars(SourcePartoo) and "streams" not in vars(SourcePartoo)


def test_a_list_never_proven_is_read_whole_even_when_its_top_pages_are_in_order(requests_mock, sleeps):
    # The top pages alone prove nothing: conversation 7 gets a message and stays on the last page, 100 gets a later
    # one and moves up. Stopping at the top would miss 7, and the state (past 100's activity) would then keep the
    # next whole read from emitting it.
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 500)
    touch(partoo, 7, 550, to_top=False)
    touch(partoo, 100, 650)

    second = sync(partoo, synced(proven=False, at=500))

    assert len(partoo.requests("/conversations")) == 2 * 5
    assert {7, 100} <= set(record_ids(second, "conversations"))
    assert {701, 10001} <= set(record_ids(second, "messages"))
