"""The main job's files (issue #31): the demo writes its own file, not the warehouse of `make sync`, and a
DuckDB cache whose saved state came from another API origin is refused before any request, in one sentence
(warehouse/origin.py). integration_tests/test_pyairbyte_demo.py runs the whole job on a real demo's file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

import duckdb
import pytest

from warehouse import origin as origins
from warehouse.sync import DEFAULT_DB, DEMO_DB, REPO, parse_args

PRODUCTION = "https://api.partoo.co"


def cache_with_state(path: Path, recorded: Optional[str]) -> Path:
    """A DuckDB cache holding source-partoo's state in PyAirbyte 0.71.3's table, as a sync from `recorded`
    leaves it (None: a cache from before origins were recorded)."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA partoo")
        con.execute("CREATE TABLE partoo._airbyte_state (source_name VARCHAR, stream_name VARCHAR, "
                    "table_name VARCHAR PRIMARY KEY, state_json VARCHAR, last_updated TIMESTAMP WITH TIME ZONE)")
        con.execute("INSERT INTO partoo._airbyte_state VALUES ('source-partoo', 'conversations', 'conversations', "
                    """'{"type":"STREAM","stream":{"stream_descriptor":{"name":"conversations"},"""
                    """"stream_state":{"last_activity_at":"2999-01-01 00:00:00.000000+0000"}}}', now())""")
    if recorded is not None:
        origins.record(path, "partoo", recorded)
    return path


def test_the_demo_and_the_sync_default_to_different_files(monkeypatch):
    monkeypatch.delenv("PARTOO_DUCKDB", raising=False)
    assert parse_args(["--demo"]).db == DEMO_DB == REPO / "data" / "demo.duckdb"
    assert parse_args(["--config", "c.json"]).db == DEFAULT_DB == REPO / "data" / "warehouse.duckdb"


def test_db_chooses_the_file_of_either(tmp_path):
    assert parse_args(["--demo", "--db", str(tmp_path / "d.duckdb")]).db == tmp_path / "d.duckdb"
    assert parse_args(["--config", "c.json", "--db", str(tmp_path / "w.duckdb")]).db == tmp_path / "w.duckdb"


def test_the_origin_is_base_urls_scheme_host_and_port_else_the_environments_server():
    assert origins.of_config({"api_key": "k"}) == origins.of_config({"environment": "production"}) == PRODUCTION
    assert origins.of_config({"environment": "sandbox"}) == "https://api.sandbox.partoo.co"
    assert origins.of_config({"base_url": "https://API.partoo.co:443/v2/"}) == PRODUCTION
    assert origins.of_config({"base_url": "http://127.0.0.1:8765/v2", "environment": "sandbox"}) == \
        "http://127.0.0.1:8765"
    assert origins.of_config({"base_url": "http://[::1]:8080/v2"}) == "http://[::1]:8080"
    assert origins.of_config({"base_url": "ftp://example.com"}) is None  # the connector's check says what to fix


def test_the_origin_never_holds_the_api_key():
    key = "k3y-Never-Shown"
    assert origins.of_config({"api_key": key, "base_url": f"https://user:{key}@proxy.example.com/v2"}) == \
        "https://proxy.example.com"
    assert key.lower() not in origins.of_config({"api_key": key, "base_url": f"https://{key}.example.com/v2"}).lower()


def test_the_same_origins_state_is_accepted(tmp_path):
    db = cache_with_state(tmp_path / "w.duckdb", PRODUCTION)
    assert origins.vet(db, "partoo", PRODUCTION) is None


def test_another_origins_state_is_refused_with_the_sentence_saying_what_to_do(tmp_path):
    db = cache_with_state(tmp_path / "w.duckdb", origins.DEMO)
    with pytest.raises(origins.OtherOrigin) as refusal:
        origins.vet(db, "partoo", PRODUCTION)
    assert str(refusal.value) == (
        f"{db} holds the state of a sync from the local Partoo emulator (make demo), not https://api.partoo.co: "
        "choose another file with DB=path.duckdb (--db), or delete it to start over.")


def test_a_file_without_state_is_accepted_whatever_origin_it_recorded(tmp_path):
    db = tmp_path / "w.duckdb"
    origins.record(db, "partoo", origins.DEMO)  # a read that stopped before any state was saved
    assert origins.vet(db, "partoo", PRODUCTION) is None
    assert origins.vet(tmp_path / "new.duckdb", "partoo", PRODUCTION) is None
    assert not (tmp_path / "new.duckdb").exists()


def test_a_sync_takes_state_without_a_recorded_origin_as_its_own_and_says_so(tmp_path):
    db = cache_with_state(tmp_path / "w.duckdb", None)
    assert origins.vet(db, "partoo", PRODUCTION) == (
        f"{db} holds state saved before syncs recorded their API origin: it is taken as coming from "
        "https://api.partoo.co (if it came from elsewhere, such as an earlier make demo, delete the file and sync "
        "again).")


def test_the_demo_refuses_state_without_a_recorded_origin(tmp_path):
    # it may be a real account's warehouse from before origins were recorded, whose tables the demo would replace
    db = cache_with_state(tmp_path / "w.duckdb", None)
    with pytest.raises(origins.OtherOrigin, match="from an API it did not record"):
        origins.vet(db, "partoo", origins.DEMO)


def test_the_demo_refuses_a_warehouse_in_one_sentence_before_starting_its_emulator(tmp_path):
    db = cache_with_state(tmp_path / "w.duckdb", PRODUCTION)
    run = subprocess.run([sys.executable, "-m", "warehouse.sync", "--demo", "--db", str(db)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stdout == ""  # no "Partoo emulator at ...": it did not start
    assert run.stderr == (
        f"{db} holds the state of a sync from https://api.partoo.co, not the local Partoo emulator (make demo): "
        "choose another file with DB=path.duckdb (--db), or delete it to start over.\n")


# ---- business_ids: the connector keeps one position per stream, not per business ----------------------------

def cache_read_for(path: Path, business_ids) -> Path:
    cache_with_state(path, None)
    origins.record(path, "partoo", PRODUCTION, business_ids)
    return path


def test_a_business_added_to_business_ids_is_refused_naming_it(tmp_path):
    db = cache_read_for(tmp_path / "w.duckdb", ["b1"])
    with pytest.raises(origins.OtherOrigin) as refused:
        origins.vet_businesses(db, "partoo", ["b1", "b2"])
    assert str(refused.value).startswith("business_ids now names b2, which the saved state does not cover: an "
                                         "incremental sync would skip its older records. Sync once with FULL_REFRESH=1")


def test_emptying_business_ids_after_a_sync_of_some_businesses_is_refused(tmp_path):
    db = cache_read_for(tmp_path / "w.duckdb", ["b1", "b2"])
    with pytest.raises(origins.OtherOrigin, match="every business .business_ids is empty., where the saved state covers 2"):
        origins.vet_businesses(db, "partoo", [])


@pytest.mark.parametrize("read,now", [(["b1", "b2"], ["b2"]), (None, ["b1"]), (None, None), (["b1"], ["b1"])])
def test_the_same_or_fewer_businesses_are_accepted(tmp_path, read, now):
    assert origins.vet_businesses(cache_read_for(tmp_path / "w.duckdb", read), "partoo", now) is None


def test_a_cache_that_recorded_no_businesses_is_accepted_and_a_cache_without_state_too(tmp_path):
    old = cache_with_state(tmp_path / "old.duckdb", None)
    with duckdb.connect(str(old)) as con:  # the table as 0.6.0's first version wrote it, without business_ids
        con.execute(f"CREATE TABLE partoo.{origins.TABLE} (origin VARCHAR, recorded_at TIMESTAMP WITH TIME ZONE)")
        con.execute(f"INSERT INTO partoo.{origins.TABLE} VALUES (?, now())", [PRODUCTION])
    assert origins.vet_businesses(old, "partoo", ["b9"]) is None
    assert origins.vet_businesses(tmp_path / "none.duckdb", "partoo", ["b9"]) is None


# ---- start dates (the new-user trial: an earlier start_date after a sync silently skipped the records between)

def cache_read_from(path: Path, config: dict, today: str = "2026-12-06") -> Path:
    cache_with_state(path, None)
    origins.record(path, "partoo", PRODUCTION, starts=origins.starts_of(config, today=today))
    return path


@pytest.mark.parametrize("before, now, refused", [
    ({"start_date": "2026-12-06"}, {}, "start_date is empty"),
    ({"start_date": "2026-12-06"}, {"start_date": "2026-01-01"}, "start_date (2026-01-01T00:00:00) is earlier"),
    ({"start_date": "2026-12-06T10:00:00+02:00"}, {"start_date": "2026-12-06T09:00:00Z"}, None),  # 08:00 UTC first
    ({"analytics_start_date": "2026-06-01"}, {"analytics_start_date": "2025-06-01"}, "analytics_start_date (2025-06-01)"),
    ({}, {"start_date": "2026-01-01"}, None),  # later than the beginning: positions are later still
    ({"start_date": "2026-01-01"}, {"start_date": "2026-06-01"}, None),
])
def test_a_start_date_earlier_than_the_one_the_state_was_read_from_is_refused(tmp_path, before, now, refused):
    cache = cache_read_from(tmp_path / "c.duckdb", before)
    if refused is None:
        origins.vet_starts(cache, "partoo", now)
        return
    with pytest.raises(origins.OtherOrigin) as refusal:
        origins.vet_starts(cache, "partoo", now)
    assert str(refusal.value).startswith(refused) and "FULL_REFRESH=1" in str(refusal.value)


def test_an_incremental_sync_keeps_the_start_of_the_first_read_and_a_full_read_of_some_streams_the_later(tmp_path):
    cache = cache_read_from(tmp_path / "c.duckdb", {"start_date": "2026-06-01"})
    origins.record(cache, "partoo", PRODUCTION)  # an incremental sync: the states were still read from June
    with pytest.raises(origins.OtherOrigin):
        origins.vet_starts(cache, "partoo", {"start_date": "2026-01-01"})
    # FULL_REFRESH=1 STREAMS=reviews from January: the other streams' states were read from June
    origins.record(cache, "partoo", PRODUCTION, streams=["reviews"],
                   starts=origins.starts_of({"start_date": "2026-01-01"}, today="2026-12-06"))
    with pytest.raises(origins.OtherOrigin):
        origins.vet_starts(cache, "partoo", {"start_date": "2026-01-01"})
    origins.record(cache, "partoo", PRODUCTION, starts=origins.starts_of({"start_date": "2026-01-01"}, today="2026-12-06"))
    origins.vet_starts(cache, "partoo", {"start_date": "2026-01-01"})  # FULL_REFRESH=1 of every stream


def test_the_streams_with_saved_state_are_found_whatever_the_case_of_the_schema(tmp_path):
    # PyAirbyte creates the schema in lower case: --schema Partoo names the same one
    path = cache_with_state(tmp_path / "w.duckdb", origins.DEMO)
    assert origins.streams_with_state(path, "partoo") == origins.streams_with_state(path, "Partoo") == {"conversations"}
    assert origins.saved(path, "Partoo") == (True, origins.DEMO)
    assert origins.streams_with_state(tmp_path / "none.duckdb", "partoo") == set()  # no file
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        con.execute("CREATE SCHEMA partoo")
    assert origins.streams_with_state(tmp_path / "empty.duckdb", "partoo") == set()  # no state table
