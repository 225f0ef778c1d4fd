"""The streams beyond Messages (#14), through the installed CLI (and the generic manifest runner) against
the emulator: exact records, an incremental second sync, 403 per product, pagination faults."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Dict, List

import pytest

from .conftest import as_loaded, run_connector

MORE = ["businesses", "reviews", "review_replies", "users", "group_sections", "groups", "organizations", "custom_fields"]
CURSORS = {"businesses": ["modified"], "reviews": ["update_date_utc"], "review_replies": ["review_update_date_utc"]}
KEYS = {"organizations": "org_id"}


def catalog(*streams: str, mode: str = "full_refresh") -> Dict[str, Any]:
    entries = []
    for name in streams:
        incremental = mode == "incremental" and name in CURSORS
        entries.append({
            "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"] + (["incremental"] if name in CURSORS else []),
                       "source_defined_cursor": name in CURSORS, "default_cursor_field": CURSORS.get(name, [])},
            "sync_mode": "incremental" if incremental else "full_refresh",
            "cursor_field": CURSORS[name] if incremental else None,
            "destination_sync_mode": "append_dedup" if incremental else "overwrite",
            "primary_key": [[KEYS.get(name, "id")]],
        })
    return {"streams": entries}


def utc(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat(timespec="microseconds")
    return dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


# What the connector adds to each stream's records: <field>_utc for every date Partoo sends.
ADDED = {
    "businesses": lambda r: {"created_utc": utc(r["created"]), "modified_utc": utc(r["modified"])},
    "reviews": lambda r: {"date_utc": utc(r["date"]), "update_date_utc": utc(r["update_date"] or r["date"]),
                          "delete_date_utc": utc(r["delete_date"])},
    "review_replies": lambda r: {"created_utc": utc(r["created"]), "date_utc": utc(r["date"]),
                                 "update_date_utc": utc(r.get("update_date"))},
    "users": lambda r: {"created_at_utc": utc(r["created_at"])},
}


def loaded(stream: str, record: Dict[str, Any]) -> Dict[str, Any]:
    return as_loaded(dict(record, **ADDED.get(stream, lambda r: {})(record)))


@pytest.fixture(scope="module")
def more_emulator(request):
    from .conftest import Emulator

    running = Emulator("--conversations", "20", "--businesses", "5", "--reviews", "230", "--users", "130",
                       "--key-without-product", "no-reviews:reviews", "--key-role", "publisher:PUBLISHER")
    yield running
    running.stop()


def by_key(stream: str, records: List[Dict[str, Any]]) -> Dict[Any, Dict[str, Any]]:
    key = KEYS.get(stream, "id")
    return {r[key]: r for r in records}


def test_full_read_returns_exactly_the_emulators_records(cli, more_emulator):
    run = cli("read", more_emulator.config(), catalog=catalog(*MORE))
    assert run.returncode == 0, run.stdout[-2000:]
    for stream in MORE:
        got = run.records(stream)
        expected = by_key(stream, more_emulator.expected(stream))
        assert len(got) == len(by_key(stream, got)) == len(expected) > 0, stream
        for key, record in by_key(stream, got).items():
            assert record == loaded(stream, expected[key]), (stream, key)


def test_incremental_second_sync_reads_only_what_changed(cli, emulator_factory):
    emulator = emulator_factory("--conversations", "10", "--businesses", "6", "--reviews", "300")
    streams = ("businesses", "reviews", "review_replies")
    first = cli("read", emulator.config(start_date="2023-01-01"), catalog=catalog(*streams, mode="incremental"))
    assert first.returncode == 0, first.stdout[-2000:]
    assert len(first.records("reviews")) == 300
    touched = emulator.control("touch_business", {"index": 1})
    deleted = emulator.control("delete_review", {"id": 12})
    reply = emulator.control("add_reply", {"review_id": 40})
    emulator.control("reset_stats", {})
    second = cli("read", emulator.config(start_date="2023-01-01"), catalog=catalog(*streams, mode="incremental"),
                 state=first.last_states())
    assert second.returncode == 0, second.stdout[-2000:]
    assert touched["id"] in {b["id"] for b in second.records("businesses")} and len(second.records("businesses")) <= 2
    reviews = by_key("reviews", second.records("reviews"))
    assert reviews[12]["state"] == "deleted" and 40 in reviews
    assert len(reviews) < 30  # the lookback's day of reviews, not the 300
    assert reply["id"] in {r["id"] for r in second.records("review_replies")}
    stats = emulator.control("stats")
    assert stats["requests /v2/reviews"] == 2 and stats["requests /v2/business/search"] == 1


def test_a_key_without_review_management_reads_everything_else(cli, more_emulator):
    run = cli("read", more_emulator.config(api_key="no-reviews"), catalog=catalog(*MORE))
    assert run.returncode == 0 and not run.errors
    assert run.records("reviews") == run.records("review_replies") == []
    assert all(run.records(s) for s in MORE if s not in ("reviews", "review_replies"))
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert any("Review Management product" in w for w in warnings)


def test_check_passes_for_a_publisher_and_warns_for_each_stream_it_may_not_read(cli, more_emulator):
    run = cli("check", more_emulator.config(api_key="publisher"))
    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status == {"status": "SUCCEEDED"}
    warned = " ".join(m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN")
    for stream in ("reviews", "users", "groups", "custom fields"):
        assert f"Partoo refused access to {stream} (HTTP 403)" in warned
    assert "refused access to conversations" not in warned and "businesses" not in warned


def test_an_ignored_per_page_still_reads_every_record(cli, emulator_factory):
    emulator = emulator_factory("--conversations", "5", "--reviews", "95", "--users", "40", "--ignore-per-page")
    run = cli("read", emulator.config(), catalog=catalog("reviews", "users"))
    assert run.returncode == 0
    assert len(by_key("reviews", run.records("reviews"))) == 95 and len(run.records("users")) == 40
    stats = emulator.control("stats")
    assert stats["requests /v2/reviews"] == math.ceil(95 / 30) and stats["requests /v2/user/search"] == 2


@pytest.mark.parametrize("fault, words", [("--stuck-page", "does not advance"), ("--growing-max-page", "keeps growing")])
def test_pages_that_never_end_stop_the_sync(cli, emulator_factory, fault, words):
    emulator = emulator_factory("--conversations", "5", "--reviews", "250", fault)
    run = cli("read", emulator.config(), catalog=catalog("reviews"), timeout=60)
    assert run.returncode != 0
    assert any(words in e["message"] for e in run.errors)
    assert emulator.control("stats")["requests /v2/reviews"] <= 4


def test_the_generic_manifest_runner_reads_every_stream(tmp_path, more_emulator):
    """The Connector Builder's way: the manifest and components.py alone."""
    completed = run_connector("manifest-only", tmp_path, "read", more_emulator.config(), catalog=catalog(*MORE))
    assert completed.returncode == 0, completed.stdout[-2000:]
    counts = {s: 0 for s in MORE}
    for m in completed.messages:
        if m["type"] == "RECORD":
            counts[m["record"]["stream"]] += 1
    assert counts == {s: len(more_emulator.expected(s)) for s in MORE}


def test_faults_on_the_search_endpoints_are_survived(cli, emulator_factory):
    # every fault kind, seeded; each costs a real backoff of seconds in the CLI, so a handful only
    flags = ("--conversations", "5", "--businesses", "4", "--reviews", "260", "--users", "120")
    clean = emulator_factory(*flags)
    faulty = emulator_factory(*flags, "--fault-rate", "0.15", "--fault-seed", "2")
    streams = ("businesses", "reviews", "users", "groups")
    expected = cli("read", clean.config(), catalog=catalog(*streams))
    run = cli("read", faulty.config(), catalog=catalog(*streams))
    assert run.returncode == 0, run.stdout[-3000:]
    stats = faulty.control("stats")
    assert sum(v for k, v in stats.items() if k.startswith("fault ")) >= 2, stats
    for stream in streams:
        assert sorted(map(repr, run.records(stream))) == sorted(map(repr, expected.records(stream))), stream


def test_a_user_of_several_businesses_of_business_ids_is_loaded_once(connector, more_emulator):
    businesses = [b["id"] for b in more_emulator.expected("businesses")][:3]
    run = connector("read", more_emulator.config(business_ids=businesses), catalog=catalog("users"))
    assert run.returncode == 0, run.stdout[-2000:]
    ids = [u["id"] for u in run.records("users")]
    expected = more_emulator.expected("users", businesses)
    assert sorted(ids) == sorted(u["id"] for u in expected)  # each once
    assert sum(len(more_emulator.expected("users", [b])) for b in businesses) > len(ids)  # listed for several
