"""The main job's options of issue #33 item 4: `make sync STREAMS=a,b` syncs only some streams (PyAirbyte's stream
selection), a name the connector does not have is refused in one sentence listing those it has, before any
request, and the refusals of origin.py still hold; the summary prints the requests the sync sent, counted from
airbyte-cdk's debug line for each request (warehouse/relay.py), which these tests hold against the requests the
local emulator received. Every request goes to 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List

import duckdb
import pytest

from integration_tests.conftest import Emulator, catalog
from unit_tests.test_warehouse_origin import PRODUCTION, cache_with_state
from warehouse import origin as origins
from warehouse.sync import REPO, SyncFailed, chosen_streams, expected, requested_streams

RELAY = REPO / "warehouse" / "relay.py"
# Every stream, in the order of the connector's discover (the manifest's, which configured_catalog.json follows).
ALL_STREAMS = [entry["stream"]["name"] for entry in
               json.loads((REPO / "integration_tests" / "configured_catalog.json").read_text())["streams"]]
SUMMARY_REQUESTS = re.compile(r"^Requests sent to Partoo: ([\d,]+) \(([\d,]+) by the check, ([\d,]+) by the read; "
                              r"retries included\)\.$", re.MULTILINE)


def job(tmp_path: Path, config: Dict[str, Any], *args: str, db: Path = None) -> subprocess.CompletedProcess:
    """`make sync CONFIG=... DB=...` with the job's options `args` (--streams, --full-refresh)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run([sys.executable, "-m", "warehouse.sync", "--config", str(path),
                           "--db", str(db or tmp_path / "w.duckdb"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


@contextmanager
def unanswered_server() -> Iterator[Dict[str, Any]]:
    """A config whose server is a listening socket on 127.0.0.1 that never accepts: a request would wait in its
    backlog, where the test finds it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        yield {"api_key": "key-Zq4-must-not-leak", "base_url": f"http://127.0.0.1:{listener.getsockname()[1]}/v2"}
        with pytest.raises(BlockingIOError):
            listener.accept()


# ---- STREAMS: parsing and refusal ---------------------------------------------------------------------------

def test_streams_are_comma_separated_names_each_once_in_the_order_given():
    assert requested_streams(None) is None  # no STREAMS: every stream
    assert requested_streams("reviews") == ["reviews"]
    assert requested_streams(" reviews, conversations ,reviews,") == ["reviews", "conversations"]


@pytest.mark.parametrize("text", ["", ",", " , "])
def test_streams_naming_no_stream_is_refused(text):
    with pytest.raises(SyncFailed) as refused:
        requested_streams(text)
    assert refused.value.lines == [f"STREAMS (--streams) names no stream ({text!r}): name one or more streams, "
                                   "separated by commas, or leave it out to sync every stream."]


def test_names_the_connector_has_are_kept_as_given():
    assert chosen_streams(["reviews", "conversations"], ALL_STREAMS) == ["reviews", "conversations"]


def test_unknown_names_are_refused_in_one_sentence_listing_the_streams_there_are():
    with pytest.raises(SyncFailed) as one:
        chosen_streams(["reviews", "review"], ALL_STREAMS)
    assert one.value.lines == [f"STREAMS (--streams) names review, which is not a stream of source-partoo: choose "
                               f"from {', '.join(ALL_STREAMS)}."]
    with pytest.raises(SyncFailed) as three:
        chosen_streams(["Reviews", "messages", "message", "reviewz"], ALL_STREAMS)
    assert three.value.lines[0].startswith("STREAMS (--streams) names Reviews, message and reviewz, which are not "
                                           "streams of source-partoo: choose from conversations, messages, businesses")


def test_the_job_refuses_an_unknown_stream_before_any_request(tmp_path):
    with unanswered_server() as config:
        run = job(tmp_path, config, "--streams", "conversations,bogus")
    assert run.returncode == 1
    assert run.stdout == "" and config["api_key"] not in run.stderr
    # the connector's own list (its discover, which sends no request), in its order
    assert run.stderr == (f"STREAMS (--streams) names bogus, which is not a stream of source-partoo: choose from "
                          f"{', '.join(ALL_STREAMS)}.\n")
    assert not (tmp_path / "w.duckdb").exists()


def test_make_sync_passes_streams_and_full_refresh_to_the_job():
    # Under `make test`, the parent make's MAKELEVEL would make this one print "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    run = subprocess.run(["make", "--no-print-directory", "-n", "sync", "CONFIG=c.json", "DB=w.duckdb",
                          "STREAMS=reviews,review_replies", "FULL_REFRESH=1"], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1].split(" -m ")[1].split() == [
        "warehouse.sync", "--config", "c.json", "--db", "w.duckdb", "--streams", "'reviews,review_replies'",
        "--full-refresh"]


# ---- The refusals of origin.py, with STREAMS ---------------------------------------------------------------

def test_a_file_from_another_api_is_refused_whatever_streams_are_named(tmp_path):
    db = cache_with_state(tmp_path / "w.duckdb", origins.DEMO)
    with unanswered_server() as config:
        run = job(tmp_path, config, "--streams", "reviews", db=db)
        origin = origins.of_config(config)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (f"{db} holds the state of a sync from the local Partoo emulator (make demo), not {origin}: "
                          "choose another file with DB=path.duckdb (--db), or delete it to start over.\n")


def add_state(db: Path, stream: str, stream_state: Dict[str, Any]) -> None:
    """A state row of source-partoo's `stream`, as PyAirbyte 0.71.3 saves it."""
    state = {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": stream_state}}
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO partoo._airbyte_state VALUES ('source-partoo', ?, ?, ?, now())",
                    [stream, stream, json.dumps(state)])


@pytest.fixture
def read_for_b1(tmp_path) -> Path:
    """A file whose conversations and reviews were read for business b1 (and users, a full refresh)."""
    db = cache_with_state(tmp_path / "w.duckdb", None)  # conversations' state
    add_state(db, "reviews", {"update_date_utc": "2025-01-01T00:00:00"})
    add_state(db, "users", dict(origins.NO_CURSOR))
    origins.record(db, "partoo", PRODUCTION, ["b1"])
    return db


def test_a_business_added_is_refused_for_the_streams_read_whose_state_lacks_it(read_for_b1):
    with pytest.raises(origins.OtherOrigin) as refused:
        origins.vet_businesses(read_for_b1, "partoo", ["b1", "b2"], ["reviews"])
    assert str(refused.value) == (
        "business_ids now names b2, which the saved state does not cover: an incremental sync would skip its older "
        "records. Sync once with FULL_REFRESH=1 (--full-refresh) to read every business again, or choose another "
        "file with DB=path.duckdb.")
    # a full-refresh stream reads every business on every sync; a stream without state starts from the beginning
    assert origins.vet_businesses(read_for_b1, "partoo", ["b1", "b2"], ["users", "messages"]) is None


def test_a_full_refresh_of_some_streams_covers_the_added_business_for_those_streams_only(read_for_b1):
    # make sync STREAMS=reviews FULL_REFRESH=1 with business_ids [b1, b2]: its record
    origins.record(read_for_b1, "partoo", PRODUCTION, ["b2", "b1"], ["reviews"])
    assert origins.vet_businesses(read_for_b1, "partoo", ["b1", "b2"], ["reviews"]) is None
    with pytest.raises(origins.OtherOrigin) as refused:  # every stream: conversations still lacks b2
        origins.vet_businesses(read_for_b1, "partoo", ["b1", "b2"])
    assert str(refused.value).startswith(
        "business_ids now names b2, which the saved state of conversations does not cover: an incremental sync")
    with pytest.raises(origins.OtherOrigin, match=r"every business \(business_ids is empty\), where the saved state "
                                                  "covers 2 only"):  # b1 (conversations) and b2 (reviews)
        origins.vet_businesses(read_for_b1, "partoo", [])
    # then a full refresh of every stream covers both again, for every stream
    origins.record(read_for_b1, "partoo", PRODUCTION, ["b1", "b2"])
    assert origins.vet_businesses(read_for_b1, "partoo", ["b1", "b2"]) is None


def test_a_sync_of_some_streams_from_another_api_forgets_what_the_file_recorded(tmp_path):
    db = tmp_path / "w.duckdb"
    origins.record(db, "partoo", origins.DEMO, ["b1"], ["reviews"])
    origins.record(db, "partoo", PRODUCTION, ["b2"], ["conversations"])  # the demo's read stopped before any state
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(f"SELECT origin, business_ids, stream_business_ids FROM partoo.{origins.TABLE}").fetchall() \
            == [(PRODUCTION, '["b2"]', None)]


def test_the_job_refuses_an_added_business_for_the_streams_named(tmp_path):
    db = cache_with_state(tmp_path / "w.duckdb", None)
    with unanswered_server() as config:
        origins.record(db, "partoo", origins.of_config(config), ["b1"])
        run = job(tmp_path, dict(config, business_ids=["b1", "b2"]), "--streams", "messages,conversations", db=db)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("business_ids now names b2, which the saved state does not cover:")
    assert len(run.stderr.splitlines()) == 1


# ---- The requests the sync spent ------------------------------------------------------------------------------

def requests_in(summary: str) -> List[int]:
    """The summary's request count: [all, the check's, the read's]."""
    found = SUMMARY_REQUESTS.search(summary)
    assert found, summary[-3000:]
    return [int(group.replace(",", "")) for group in found.groups()]


def test_the_summary_prints_the_requests_the_server_received(tmp_path):
    # One job (each costs PyAirbyte's start-up, the slowest part of `make test`): the check's 13 requests, then the
    # read's, as the emulator counted them, and only the streams named.
    emulator = Emulator("--conversations", "30", "--businesses", "3")
    try:
        config = emulator.config()
        emulator.control("reset_stats", {})
        run = job(tmp_path, config, "--streams", "conversations,messages")
        assert run.returncode == 0, run.stderr[-3000:]
        stats = emulator.control("stats")
        assert requests_in(run.stdout) == [stats["requests"], 13, stats["requests"] - 13]  # check: one per endpoint
        # the read's: the conversation list (the check asked its first page) and one messages request or more each
        read = stats["requests /v2/conversations"] - 1 + stats["requests /v2/messages"]
        assert requests_in(run.stdout)[2] == read > 30
        # next to check's estimate for the streams named: 1 page of the list each, and a request per conversation
        estimate = re.search(r"^  check's estimate for the read: about ([\d,]+) \(a first sync\)\.$", run.stdout, re.MULTILINE)
        assert estimate and int(estimate[1]) == 1 + 1 + 30 and abs(int(estimate[1]) - read) <= 0.1 * read
    finally:
        emulator.stop()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        tables = {row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'partoo'").fetchall()}
        states = {row[0] for row in con.execute("SELECT stream_name FROM partoo._airbyte_state").fetchall()}
    # the streams named, and those only
    assert {"conversations", "messages"} <= tables
    assert not tables & {"users", "businesses", "reviews", "posts", "review_metrics_daily"}
    assert states == {"conversations", "messages"}


def test_the_estimate_for_the_read_is_a_first_sync_for_each_stream_without_saved_state():
    estimate = {"conversations": (10, 1), "messages": (110, 2), "reviews": (5, 1)}
    assert expected(estimate, None, set()) == (125, "a first sync")
    quiet = "an incremental sync an hour after the last, with nothing new"
    assert expected(estimate, None, {"conversations", "messages", "reviews"}) == (4, quiet)
    assert expected(estimate, None, {"conversations", "messages"}) == (1 + 2 + 5, f"{quiet}; a first sync of reviews")
    assert expected(estimate, ["messages"], {"messages"}) == (2, quiet)
    # without a saved messages state, conversations reads its whole list: the proof of its order is in that state,
    # which PyAirbyte passes to the connector whatever streams are read
    assert expected(estimate, ["conversations"], {"conversations"}) == (
        10, f"{quiet}; conversations reads its whole list without a saved messages state")
    assert expected(estimate, ["conversations"], {"conversations", "messages"}) == (1, quiet)
    assert expected(estimate, None, {"conversations", "reviews"}) == (10 + 110 + 1, f"{quiet}; a first sync of messages; "
                                                                      "conversations reads its whole list without a "
                                                                      "saved messages state")
    assert expected(estimate, ["conversations"], set()) == (10, "a first sync")
    assert expected({}, None, set())[0] is None  # no estimate (a check limited to some streams)


def relay_read(tmp_path: Path, connector: List[str], *args: str) -> subprocess.CompletedProcess:
    """The relay with --count-requests running `connector read ARGS` (as the job's launcher runs it)."""
    return subprocess.run([sys.executable, str(RELAY), "--count-requests", str(tmp_path / "requests.jsonl"),
                           str(tmp_path / "errors.jsonl"), *connector, "read", *args],
                          capture_output=True, timeout=240)


def counts(tmp_path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]


REQUEST = {"type": "DEBUG", "message": "Making outbound API request", "data": {"url": "http://127.0.0.1/v2/x"}}
RESPONSE = {"type": "DEBUG", "message": "Receiving response", "data": {"body": "{\"reviews\": []}"}}
SLICE = {"type": "LOG", "log": {"level": "INFO", "message": 'slice:{"business_id": "b1"}'}}
RECORD = {"type": "RECORD", "record": {"stream": "reviews", "data": {"id": 1}, "emitted_at": 1}}


def fake_connector(tmp_path: Path, *messages: Dict[str, Any]) -> List[str]:
    """A connector that writes its arguments to argv.json and prints `messages` as airbyte-cdk does: json.dumps's
    separators for debug lines, orjson's for Airbyte messages."""
    lines = [json.dumps(m) if m["type"] == "DEBUG" else json.dumps(m, separators=(",", ":")) for m in messages]
    program = tmp_path / "connector"  # one executable, as the job's relay runs source-partoo
    program.write_text(f"#!{sys.executable}\nimport json, sys\n"
                       f"open({str(tmp_path / 'argv.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
                       + "".join(f"print({line!r})\n" for line in lines))
    program.chmod(0o700)
    return [str(program)]


def test_a_counted_read_runs_with_debug_and_passes_on_none_of_what_debug_adds(tmp_path):
    connector = fake_connector(tmp_path, REQUEST, RESPONSE, SLICE, RECORD, REQUEST, RESPONSE)
    run = relay_read(tmp_path, connector, "--config", "c.json")
    assert run.returncode == 0
    assert json.loads((tmp_path / "argv.json").read_text()) == ["read", "--debug", "--config", "c.json"]
    assert [json.loads(line) for line in run.stdout.splitlines()] == [RECORD]
    assert counts(tmp_path) == [{"command": "read", "requests": 2}]


def test_a_read_whose_log_has_no_debug_line_is_not_counted_as_zero(tmp_path):
    relay_read(tmp_path, fake_connector(tmp_path, RECORD))
    assert counts(tmp_path) == [{"command": "read", "requests": None}]


def test_other_commands_are_neither_changed_nor_counted(tmp_path):
    connector = fake_connector(tmp_path, REQUEST, RECORD)
    run = subprocess.run([sys.executable, str(RELAY), "--count-requests", str(tmp_path / "requests.jsonl"),
                          str(tmp_path / "errors.jsonl"), *connector, "discover", "--config", "c.json"],
                         capture_output=True, timeout=60)
    assert json.loads((tmp_path / "argv.json").read_text()) == ["discover", "--config", "c.json"]
    assert [json.loads(line) for line in run.stdout.splitlines()] == [REQUEST, RECORD]
    assert not (tmp_path / "requests.jsonl").exists()


def test_every_attempt_counts_retries_included(tmp_path):
    # one request in five answered with a 500, which the connector retries after a backoff (this seed: 2 of 9)
    emulator = Emulator("--conversations", "5", "--businesses", "3", "--fault-rate", "0.2", "--faults", "500",
                        "--fault-seed", "4")
    streams = ("businesses", "users", "organizations", "custom_fields", "posts", "message_templates")
    try:
        (tmp_path / "config.json").write_text(json.dumps(emulator.config()))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog(*streams)))
        run = relay_read(tmp_path, [str(Path(sys.executable).with_name("source-partoo"))],
                         "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json"))
        stats = emulator.control("stats")
    finally:
        emulator.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    assert b'"type": "DEBUG"' not in run.stdout and b"slice:" not in run.stdout
    assert stats["fault 500"] > 0
    assert counts(tmp_path) == [{"command": "read", "requests": stats["requests"]}]
