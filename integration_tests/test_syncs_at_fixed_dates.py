"""An incremental sync next month, and across the year's end on a machine in Paris time, reads what changed since
the sync before it: the emulator and the CLI run with their clocks at a fixed moment (conftest.clock_at), moving
on from there, and the emulator dates new messages at its now, as Partoo does. (The analytics windows on
the days where dates turn: unit_tests/test_analytics_at_fixed_dates.py; both runtimes on a fixed day:
test_analytics_runtimes.py.)"""

from __future__ import annotations

import datetime as dt

import pytest

from .conftest import catalog

BOTH = ("conversations", "messages")

# The first sync's moment (UTC) and the processes' time zone. Each sync takes a second or two: the year's end
# (UTC's; it is 1 a.m. in Paris) falls between or during the syncs.
MOMENTS = {
    "next-month": ("2027-01-07T12:00:00", "UTC"),
    "year-end": ("2026-12-31T23:59:57", "Europe/Paris"),
}


@pytest.mark.parametrize("when", sorted(MOMENTS))
def test_incremental_second_sync_reads_only_what_changed(cli, emulator_factory, clock_at, when):
    at = clock_at(*MOMENTS[when])
    emulator = emulator_factory("--conversations", "60")
    first = cli("read", emulator.config(), catalog=catalog(*BOTH, mode="incremental"))
    assert first.returncode == 0
    ids = [c["id"] for c in emulator.expected("conversations")]
    added = emulator.control("add_messages", {"conversation_ids": ids[10:13], "count": 2})["message_ids"]
    new_conversation = emulator.control("add_conversation", {"business_index": 1, "messages": 1})["id"]
    emulator.control("reset_stats", {})
    second = cli("read", emulator.config(), catalog=catalog(*BOTH, mode="incremental"), state=first.last_states())
    assert second.returncode == 0
    changed = set(ids[10:13]) | {new_conversation}
    assert changed <= {c["id"] for c in second.records("conversations")}
    assert len(second.records("conversations")) <= len(changed) + 1  # + the boundary conversation
    new_messages = {m["id"] for m in second.records("messages")}
    assert set(added) <= new_messages and len(new_messages) <= len(added) + 2  # + new conversation, boundary
    dated = [dt.datetime.fromisoformat(m["date"]) for m in second.records("messages") if m["id"] in added]
    assert all(at <= date < at + dt.timedelta(minutes=1) for date in dated)  # the emulator's clock: the moment's
    stats = emulator.control("stats")
    assert stats["requests /v2/messages"] <= len(changed) + 1
