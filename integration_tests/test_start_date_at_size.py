"""start_date over 15 pages of the conversation list (525 conversations, 35 a page), both streams, full refresh and
incremental: exactly the records newer than start_date, and messages asked only for those conversations, in both
runtimes."""

import pytest

from .conftest import catalog, run_connector

pytestmark = pytest.mark.integration

CONVERSATIONS = 525  # 15 pages of the list
PAGE = 35  # the connector asks 100 a page; 35 here gives as many pages for a third of the time


# start_date is the same slice start in both modes: the manifest-only runtime runs the incremental one.
@pytest.mark.parametrize("runtime, mode", [("package", "full_refresh"), ("package", "incremental"),
                                           ("manifest-only", "incremental")])
def test_start_date_over_15_pages_loads_exactly_the_newer_records_of_both_streams(emulator_factory, tmp_path,
                                                                                   runtime, mode):
    emulator = emulator_factory("--conversations", str(CONVERSATIONS), "--max-messages", "3")
    conversations = emulator.expected("conversations")
    activity = sorted((c["last_message"] or {}).get("date") or c["created_at"] for c in conversations)
    start = activity[len(activity) // 2].replace(" ", "T")  # the median activity: half the pages are older

    run = run_connector(runtime, tmp_path, "read", emulator.config(start_date=start, _partoo_page_size=PAGE), catalog=catalog("conversations", "messages", mode=mode))

    assert run.returncode == 0, run.errors
    newer = {c["id"] for c in conversations if ((c["last_message"] or {}).get("date") or c["created_at"]) >= start.replace("T", " ")}
    assert {c["id"] for c in run.records("conversations")} == newer
    expected_messages = {m["id"] for m in emulator.expected("messages") if m["date"] >= start.replace("T", " ")}
    assert {m["id"] for m in run.records("messages")} == expected_messages
    assert set(emulator.control("stats")["messages_asked_for"]) == newer
