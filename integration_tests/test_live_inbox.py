"""Incremental syncs at a real organization's size, with the inbox changing while the connector reads it.

Each scenario: 525 conversations (15 pages of the list, 35 a page), in each of the three orders a list can come
in; sync 1 runs while the inbox is live (a new message, conversation or deletion every 10 requests, so that the list moves while it is paged),
then changes happen between syncs, then sync 2, then a quiet sync 3. The union of what the three syncs
emit must be every conversation and every message that exists at the end, as it is at the end.

Both ways of reading the list are run: with the defaults (a list that a complete read proved newest first
is read only down to the saved position by the next syncs: the newest order here) and with
full_list_every_hours = 0 (every sync reads the whole list, once for both streams). The newest-first and
shuffled scenarios run through both runtimes (`connector`: source-partoo and source-declarative-manifest),
with the same request bounds.
"""

from __future__ import annotations

from typing import Any, Dict, List, Set

import pytest

from .conftest import as_loaded, catalog

pytestmark = pytest.mark.integration

CONVERSATIONS = 350  # 10 pages of the list
PAGE = 35  # the connector asks 100 a page; 35 here gives as many pages for a third of the time


def emitted(runs: List[Any], stream: str) -> Dict[Any, List[Dict[str, Any]]]:
    """Every version of every record the runs emitted, by id."""
    seen: Dict[Any, List[Dict[str, Any]]] = {}
    for run in runs:
        for record in run.records(stream):
            loaded = {k: v for k, v in as_loaded(record).items() if k != "last_activity_at"}  # the connector's
            seen.setdefault(record["id"], []).append(loaded)
    return seen


def assert_union_is_everything(emulator: Any, runs: List[Any]) -> None:
    conversations = emulator.control("expected?stream=conversations")
    deleted: Set[int] = set(conversations["deleted"])
    for stream, expected in (("conversations", conversations["records"]),
                             ("messages", emulator.expected("messages"))):
        versions = emitted(runs, stream)
        missing = [r["id"] for r in expected if r["id"] not in versions]
        assert not missing, f"{len(missing)} {stream} never emitted, e.g. {missing[:5]}"
        stale = [r["id"] for r in expected if as_loaded(r) not in versions[r["id"]]]
        assert not stale, f"{len(stale)} {stream} never emitted as they are now, e.g. {stale[:5]}"
        parent = "id" if stream == "conversations" else "conversation_id"
        extra = {v[0][parent] for k, v in versions.items() if k not in {r["id"] for r in expected}}
        assert extra <= deleted, f"{stream} emitted that do not exist and were not deleted: {sorted(extra - deleted)[:5]}"


def three_incremental_syncs_of_a_live_inbox_emit_every_record(emulator_factory, connector, order, **settings):
    emulator = emulator_factory("--conversations", str(CONVERSATIONS), "--max-messages", "3", "--order", order,
                                "--live-every", "10")
    config = emulator.config(_partoo_page_size=PAGE, **settings)
    early_stop = order == "newest" and settings.get("full_list_every_hours") != 0
    both = catalog("conversations", "messages", mode="incremental")

    sync1 = connector("read", config, catalog=both)
    assert sync1.returncode == 0, sync1.errors
    live = emulator.control("stats")
    assert live.get("live message", 0) >= 20 and live.get("live deletion", 0) >= 1, live

    # Between syncs: a new message in a quiet conversation (oldest activity) and in a busy one (newest),
    # a new conversation, a deletion.
    emulator.control("settings", {"live_every": 0})
    by_activity = emulator.control("expected?stream=conversations")["records"]
    by_activity.sort(key=lambda c: (c["last_message"] or {}).get("date") or c["created_at"])
    quiet, busy, doomed = by_activity[0]["id"], by_activity[-1]["id"], by_activity[len(by_activity) // 2]["id"]
    emulator.control("add_messages", {"conversation_ids": [quiet, busy], "count": 2})
    new = emulator.control("add_conversation", {"business_index": 1, "messages": 3})["id"]
    emulator.control("delete_conversation", {"id": doomed})

    messages_state = next(s["stream"]["stream_state"] for s in sync1.last_states()
                          if s["stream"]["stream_descriptor"]["name"] == "messages")
    proof = messages_state["parent_state"].get("conversation_list")
    assert bool(proof) == (order == "newest")  # a complete read proves the order of a list newest first only

    emulator.control("reset_stats", {})
    sync2 = connector("read", config, catalog=both, state=sync1.last_states())
    assert sync2.returncode == 0, sync2.errors
    listed = emulator.control("stats")["requests /v2/conversations"]
    whole = -(-len(emulator.control("expected?stream=conversations")["records"]) // PAGE)  # the list's pages
    assert listed < whole if early_stop else listed >= 2 * whole
    assert {quiet, busy, new} <= {c["id"] for c in sync2.records("conversations")}
    assert {quiet, busy, new} <= {m["conversation_id"] for m in sync2.records("messages")}

    emulator.control("reset_stats", {})
    sync3 = connector("read", config, catalog=both, state=sync2.last_states())
    assert sync3.returncode == 0, sync3.errors
    stats = emulator.control("stats")
    # A quiet sync reads the list (each stream; on a proven list, only its top, down to the saved
    # position minus an hour: the live changes of sync 1 are that recent) and the messages of the
    # conversation(s) at the saved position only (the boundary is inclusive), nothing else.
    assert stats["requests /v2/conversations"] <= (2 * 3 if early_stop else 2 * whole)
    latest = max((c["last_message"] or {}).get("date") or c["created_at"]
                 for c in emulator.control("expected?stream=conversations")["records"])
    boundary = {c["id"] for c in emulator.control("expected?stream=conversations")["records"]
                if ((c["last_message"] or {}).get("date") or c["created_at"]) == latest}
    assert set(stats["messages_asked_for"]) <= boundary, stats["messages_asked_for"]

    assert_union_is_everything(emulator, [sync1, sync2, sync3])



# One class per order: pytest-xdist (`--dist loadscope`, see the Makefile) runs each on its own worker. The
# list behaviours that differ, the early stop on a proven list and a list in no order, run through both
# runtimes (`connector`); the other two orders through the package (`package`), to keep `make test` short.
class TestNewestActivityFirst:
    def test_three_incremental_syncs_of_a_live_inbox_emit_every_record(self, emulator_factory, connector):
        three_incremental_syncs_of_a_live_inbox_emit_every_record(emulator_factory, connector, "newest")


class TestOldestActivityFirst:
    def test_three_incremental_syncs_of_a_live_inbox_emit_every_record(self, emulator_factory, cli):
        three_incremental_syncs_of_a_live_inbox_emit_every_record(emulator_factory, cli, "oldest")


class TestShuffled:
    def test_three_incremental_syncs_of_a_live_inbox_emit_every_record(self, emulator_factory, connector):
        three_incremental_syncs_of_a_live_inbox_emit_every_record(emulator_factory, connector, "shuffled")
