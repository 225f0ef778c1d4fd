"""The conversation list over many pages: incremental syncs and start_date whatever the pages hold, and a
list that changes while it is paged (Partoo's cursors are positions: the list shifts under them)."""

import datetime as dt
import logging
from typing import Any, Callable, Dict, List, Optional

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.state_builder import StateBuilder

from .conftest import BASE, FakePartoo, conversation, make_config, message, record_ids, run_read, state_from

INC = SyncMode.incremental


def minute(n: int) -> str:
    """Minute n after 2024-03-01 00:00 UTC, as Partoo writes dates."""
    moment = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=n)
    return moment.isoformat(sep=" ", timespec="microseconds")


def inbox(partoo: FakePartoo, size: int) -> None:
    """Conversation c's last activity is minute c; the list is newest first, like an inbox."""
    partoo.conversations = [conversation(c, last=minute(c)) for c in range(size, 0, -1)]
    partoo.messages = {c: [message(c * 100, c, minute(c))] for c in range(1, size + 1)}


class LivePartoo(FakePartoo):
    """FakePartoo whose list changes right before chosen requests of the conversation list (1-based)."""

    def __init__(self, mocker: Any) -> None:
        super().__init__(mocker)
        self.changes: Dict[int, Callable[[], None]] = {}
        self.list_requests = 0

    def _conversations(self, request: Any, context: Any) -> Dict[str, Any]:
        self.list_requests += 1
        change = self.changes.get(self.list_requests)
        if change:
            change()
        return super()._conversations(request, context)

    def move_to_top(self, cid: int, date: str) -> None:
        self.conversations = [conversation(cid, last=date)] + [c for c in self.conversations if c["id"] != cid]
        self.messages[cid].append(message(cid * 100 + 1, cid, date))

    def delete(self, cid: int) -> None:
        self.conversations = [c for c in self.conversations if c["id"] != cid]
        self.missing.add(cid)


def cursors_sent(partoo: FakePartoo) -> List[Optional[str]]:
    return [(r.qs.get("cursor") or [None])[0] for r in partoo.requests("/conversations")]


def test_a_second_incremental_sync_over_25_pages_without_new_activity_succeeds(partoo, requests_mock):
    inbox(partoo, 2500)
    first = run_read(make_config(), "conversations", mode=INC)
    assert len(record_ids(first, "conversations")) == 2500
    requests_mock.reset_mock()

    second = run_read(make_config(), "conversations", mode=INC, state=state_from(first, "conversations"))

    assert not second.errors
    assert record_ids(second, "conversations") == [2500]  # the boundary conversation, at least once
    assert len(partoo.requests("/conversations")) == 25


def test_an_incremental_messages_sync_over_25_pages_reads_only_the_active_conversations(partoo, requests_mock):
    inbox(partoo, 2500)
    # The messages stream's state after a complete sync at minute 2440: 60 conversations newer since.
    messages_state = {"use_global_cursor": True, "state": {"date": "2024-03-02 16:40:00.000000+0000"},
                      "lookback_window": 1,
                      "parent_state": {"conversations": {"last_activity_at": "2024-03-02 16:40:00.000000+0000"}}}
    requests_mock.reset_mock()
    output = run_read(make_config(), "messages", mode=INC,
                      state=StateBuilder().with_stream_state("messages", messages_state).build())

    assert not output.errors
    asked = sorted(int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages"))
    assert asked == list(range(2440, 2501))
    assert sorted(record_ids(output, "messages")) == [c * 100 for c in range(2440, 2501)]


def test_start_date_over_25_pages_full_refresh_of_both_streams(partoo, requests_mock):
    inbox(partoo, 2500)
    config = make_config(start_date="2024-03-01T20:50:00Z")  # minute 1250: the median activity

    output = run_read(config, "conversations", "messages")

    assert not output.errors
    assert sorted(record_ids(output, "conversations")) == list(range(1250, 2501))
    assert sorted(int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages")) == list(range(1250, 2501))
    assert sorted(record_ids(output, "messages")) == [c * 100 for c in range(1250, 2501)]


def test_a_conversation_that_moves_to_the_top_while_the_list_is_paged_is_read(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 1000)
    # Before page 3, conversation 50 (on page 10) gets a message: it moves above the pages already read,
    # and conversation 801, at the page boundary, is listed twice.
    partoo.changes[3] = lambda: partoo.move_to_top(50, minute(5000))

    output = run_read(make_config(), "conversations", "messages")

    assert sorted(record_ids(output, "conversations")) == list(range(1, 1001))  # each once
    assert 5001 in record_ids(output, "messages")  # the new message of the conversation that moved
    assert set(record_ids(output, "messages")) >= {c * 100 for c in range(1, 1001)}
    # Each stream walked the list twice; a new pass starts without a cursor.
    assert cursors_sent(partoo).count(None) == 4
    assert len(partoo.requests("/conversations")) == 40


def test_a_conversation_deleted_while_the_list_is_paged_does_not_hide_its_neighbour(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 1000)
    # Before page 5, conversation 990 (page 1, already read) is deleted: the list moves up by one and
    # conversation 600, first on page 5 until then, would never be listed.
    partoo.changes[5] = lambda: partoo.delete(990)

    output = run_read(make_config(), "conversations")

    assert sorted(record_ids(output, "conversations")) == list(range(1, 1001))  # each once
    assert cursors_sent(partoo).count(None) == 2


def test_a_list_that_keeps_changing_is_read_three_times_then_the_sync_goes_on_with_a_warning(
    requests_mock, sleeps, caplog
):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 500)
    for request in (2, 7, 12, 17):  # one change in every pass of 5 pages, and one more
        partoo.changes[request] = lambda r=request: partoo.move_to_top(r, minute(9000 + r))

    with caplog.at_level(logging.INFO, logger="airbyte"):
        output = run_read(make_config(), "conversations")

    assert not output.errors
    assert len(partoo.requests("/conversations")) == 15  # three passes, no more
    # Each conversation once per last activity: 7 moved between the passes that listed it (old activity
    # in pass 1, new in pass 3); 2 moved before pass 1 reached it, 12 after pass 3 passed it (next sync).
    ids = record_ids(output, "conversations")
    assert set(ids) == set(range(1, 501)) and len(ids) == 501
    assert any("kept changing during 3 successive reads" in m.log.message for m in output.logs)


def test_a_list_that_does_not_change_is_read_once_even_with_count(partoo, requests_mock):
    inbox(partoo, 1000)
    run_read(make_config(), "conversations", "messages")
    assert cursors_sent(partoo).count(None) == 2  # once per stream
    assert len(partoo.requests("/conversations")) == 20


def test_a_short_count_without_movement_is_not_mistaken_for_a_change(requests_mock, sleeps):
    # Some pages may omit count, or a list may be shorter than count says only once: read twice at most.
    requests_mock.get(f"{BASE}/conversations", [
        {"json": {"conversations": [conversation(1)], "count": 3, "next_cursor": "p2"}},
        {"json": {"conversations": [conversation(2)], "count": 3, "next_cursor": None}},
        {"json": {"conversations": [conversation(1)], "count": 2, "next_cursor": "p2"}},
        {"json": {"conversations": [conversation(2)], "count": 2, "next_cursor": None}},
    ])
    output = run_read(make_config(), "conversations")
    assert not output.errors
    assert requests_mock.call_count == 4
    assert sorted(set(record_ids(output, "conversations"))) == [1, 2]
