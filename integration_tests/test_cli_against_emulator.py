"""The installed CLI, as a subprocess, against the local Partoo emulator. Tests that take `connector` run through
both runtimes (`source-partoo` and `source-declarative-manifest` with components.py: conftest.py). Faults,
secrets and workers have their own modules (test_cli_faults.py, test_cli_secrets.py, test_cli_workers.py), so
that pytest-xdist (`--dist loadscope`) runs them beside these; so has an incremental second sync, run at fixed
dates (test_syncs_at_fixed_dates.py)."""

from __future__ import annotations

from .conftest import as_loaded, catalog

BOTH = ("conversations", "messages")


def test_check_succeeds(connector, emulator):
    run = connector("check", emulator.config())
    assert run.returncode == 0
    assert run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"


def test_check_with_a_bad_key_fails_saying_what_to_do_and_never_prints_the_key(connector, emulator):
    run = connector("check", emulator.config(api_key="wrong-key-0123456789"))
    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert "rejected the API key" in status["message"]
    assert "wrong-key-0123456789" not in run.stdout + run.stderr  # although the emulator echoes it back


def test_check_with_a_key_limited_to_other_businesses_is_forbidden(connector, emulator):
    # "limited-key" may read business 0 only; ask for another one
    businesses = sorted({c["business"]["id"] for c in emulator.expected("conversations")})
    allowed = {c["business"]["id"] for c in emulator.expected("conversations") if c["business"]["name"].endswith(" 0")}
    forbidden = next(b for b in businesses if b not in allowed)
    run = connector("check", emulator.config(api_key="limited-key", business_ids=[forbidden]))
    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert f"Partoo refused access to businesses {forbidden} (HTTP 403)" in status["message"]
    assert "remove them from business_ids" in status["message"]
    assert connector("check", emulator.config(api_key="limited-key", business_ids=sorted(allowed))).of_type(
        "CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"


def test_bad_config_fails_the_check_before_any_request(cli, emulator):
    before = emulator.control("stats").get("requests", 0)
    run = cli("check", emulator.config(base_url="http://example.com/v2"))
    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "base_url must use https:// for example.com" in status["message"]
    assert emulator.control("stats").get("requests", 0) == before


def test_discover_lists_both_streams(cli, emulator):
    run = cli("discover", emulator.config())
    streams = {s["name"]: s for s in run.of_type("CATALOG")[0]["catalog"]["streams"]}
    assert set(BOTH) <= set(streams)  # and the streams of test_more_streams.py
    assert streams["messages"]["source_defined_primary_key"] == [["id"]]


def test_full_read_returns_exactly_the_emulators_records(connector, emulator):
    run = connector("read", emulator.config(), catalog=catalog(*BOTH))
    assert run.returncode == 0, run.stdout[-2000:]
    conversations = {r["id"]: r for r in run.records("conversations")}
    messages = {r["id"]: r for r in run.records("messages")}
    expected_conversations = {r["id"]: r for r in emulator.expected("conversations")}
    expected_messages = {r["id"]: r for r in emulator.expected("messages")}
    assert len(conversations) == len(run.records("conversations")) == len(expected_conversations) == 120
    assert len(messages) == len(run.records("messages")) == len(expected_messages)
    for cid, record in conversations.items():
        activity = record.pop("last_activity_at")
        source = expected_conversations[cid]
        assert activity == (source["last_message"] or {}).get("date", source["created_at"])
        assert record == as_loaded(source)
    for mid, record in messages.items():
        assert record == as_loaded(expected_messages[mid])


def test_business_filter_reads_only_those_businesses(cli, emulator):
    businesses = sorted({c["business"]["id"] for c in emulator.expected("conversations")})[:2]
    run = cli("read", emulator.config(business_ids=businesses), catalog=catalog(*BOTH))
    assert run.returncode == 0
    expected = {c["id"] for c in emulator.expected("conversations", businesses)}
    assert {c["id"] for c in run.records("conversations")} == expected
    assert {m["conversation_id"] for m in run.records("messages")} <= expected
    assert len(run.records("messages")) == len(emulator.expected("messages", businesses))


def test_a_server_that_repeats_a_cursor_stops_the_sync_instead_of_looping(connector, emulator_factory):
    emulator = emulator_factory("--conversations", "250", "--loop-cursor")
    run = connector("read", emulator.config(), catalog=catalog("conversations"), timeout=60)
    assert run.returncode != 0
    assert any("already returned" in e["message"] for e in run.errors)
    assert emulator.control("stats")["requests /v2/conversations"] <= 3
    assert len(run.records("conversations")) == 200  # the two pages read before the loop, once each
    assert len({r["id"] for r in run.records("conversations")}) == len(run.records("conversations"))
