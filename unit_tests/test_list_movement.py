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
    # The conversations of the hour before the saved state (the lookback, at least once), nothing older.
    assert sorted(record_ids(second, "conversations")) == list(range(2440, 2501))
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
    # Each stream reads the list, then its top again (a new pass starts without a cursor) until a page it had
    # entirely seen: the conversations it missed moved to the top of a list newest first. (A stream that had
    # not started its read when the list moved reads it once.)
    assert cursors_sent(partoo).count(None) in (3, 4)
    assert 2 * 10 + 1 <= len(partoo.requests("/conversations")) <= 2 * (10 + 2)


def test_a_conversation_deleted_while_the_list_is_paged_does_not_hide_its_neighbour(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 1000)
    # Before page 5, conversation 990 (page 1, already read) is deleted: the list moves up by one and
    # conversation 600, first on page 5 until then, would never be listed.
    partoo.changes[5] = lambda: partoo.delete(990)

    output = run_read(make_config(), "conversations")

    assert sorted(record_ids(output, "conversations")) == list(range(1, 1001))  # each once
    assert cursors_sent(partoo).count(None) == 2


def test_a_list_that_keeps_losing_conversations_is_read_three_times_then_the_sync_goes_on_with_a_warning(
    requests_mock, sleeps
):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 500)
    # A deletion on the first page during each of the three passes of 5 pages, and one more after.
    for request, doomed in ((2, 500), (7, 499), (12, 498), (17, 497)):
        partoo.changes[request] = lambda doomed=doomed: partoo.delete(doomed)

    output = run_read(make_config(), "conversations")

    assert not output.errors
    assert len(partoo.requests("/conversations")) == 15  # three passes, no more
    assert sorted(record_ids(output, "conversations")) == list(range(1, 501))  # each once, none skipped
    assert any("kept changing during 3 successive reads" in m.log.message for m in output.logs)


def test_an_inbox_that_keeps_getting_messages_costs_a_few_pages_more_not_whole_passes(requests_mock, sleeps):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 1000)
    # New messages lift old conversations to the top while the list is paged (one reader: conversations).
    moved = (3, 8, 13, 18)
    for request in moved:
        partoo.changes[request] = lambda r=request: partoo.move_to_top(r, minute(5000 + r))

    output = run_read(make_config(), "conversations")

    assert not output.errors
    # Pass 1 (10 pages) saw 3 and 8 move above it; the top again: page 1 holds them, page 2 was entirely
    # seen, so the read stops there. 13 and 18 move after the read: their activity is newer than the state.
    assert len(partoo.requests("/conversations")) == 10 + 2
    assert cursors_sent(partoo) == [None] + [f"off-{n}" for n in range(100, 1000, 100)] + [None, "off-100"]
    emitted = record_ids(output, "conversations")
    assert sorted(emitted) == list(range(1, 1001))  # each once: 3 and 8 with their new activity
    saved = [m for m in output.state_messages][-1].state.stream.stream_state.__dict__["last_activity_at"]
    for cid in (13, 18):
        assert minute(5000 + cid).replace("+00:00", "+0000") > saved


def test_a_list_that_does_not_change_is_read_once_even_with_count(partoo, requests_mock):
    inbox(partoo, 300)
    run_read(make_config(), "conversations", "messages")
    assert cursors_sent(partoo).count(None) == 2  # once for each stream
    assert len(partoo.requests("/conversations")) == 2 * 3


def test_a_list_shorter_than_its_count_is_read_again_from_the_top_only(requests_mock, sleeps):
    # Fewer conversations listed than count says: some moved above the pages read. In a list proven
    # newest first they are at the top, so the top is read again until a page that was entirely seen.
    requests_mock.get(f"{BASE}/conversations", [
        {"json": {"conversations": [conversation(1)], "count": 3, "next_cursor": "p2"}},
        {"json": {"conversations": [conversation(2)], "count": 3, "next_cursor": None}},
        {"json": {"conversations": [conversation(1)], "count": 2, "next_cursor": "p2"}},
        {"json": {"conversations": [conversation(2)], "count": 2, "next_cursor": None}},
    ])
    output = run_read(make_config(), "conversations")
    assert not output.errors
    assert requests_mock.call_count == 3
    assert [r.qs.get("cursor") for r in requests_mock.request_history] == [None, ["p2"], None]
    assert record_ids(output, "conversations") == [1, 2]


def test_a_conversation_that_changes_after_it_was_read_in_a_list_not_ordered_by_activity_is_read_next_sync(
    requests_mock, sleeps
):
    partoo = LivePartoo(requests_mock)
    inbox(partoo, 300)
    partoo.conversations.sort(key=lambda c: c["id"])  # a list ordered by id: activity never moves anything

    def touch(cid: int, moment: dt.datetime) -> None:
        date = moment.isoformat(sep=" ", timespec="microseconds")
        partoo.conversations = [conversation(cid, last=date) if c["id"] == cid else c for c in partoo.conversations]
        partoo.messages[cid].append(message(cid * 100 + 1, cid, date))

    # While page 3 is asked for: 5 (page 1, already read) and then 250 (page 3) get a message, in place, dated
    # when they arrive (after the sync started, however long the source took to start).
    def arrive() -> None:
        now = dt.datetime.now(dt.timezone.utc)
        touch(5, now)
        touch(250, now + dt.timedelta(seconds=1))

    partoo.changes[3] = arrive
    first = run_read(make_config(), "conversations", "messages", mode=INC)
    # (501 may be read already: the list is read once, before any messages are asked for.)
    partoo.changes.clear()

    second = run_read(make_config(), "conversations", "messages", mode=INC,
                      state=state_from(first, "conversations") + state_from(first, "messages"))

    assert 501 in record_ids(second, "messages")
    versions = [m.record.data for m in second.records if m.record.stream == "conversations" and m.record.data["id"] == 5]
    assert versions and versions[-1]["last_message"]["date"] == partoo.messages[5][-1]["date"]
