"""The main job: PyAirbyte runs the installed connector against the emulator into DuckDB. One demo run for
the module (`make demo` at 30 conversations), read by each test: a second demo, into the file where an earlier
demo (its emulator on another port) saved its state. A real account's sync then refuses that file (#31)."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Tuple

import duckdb
import pytest

from unit_tests.test_warehouse_origin import cache_with_state
from warehouse import origin as origins

from .conftest import ALL_STREAMS, ANALYTICS_STREAMS, DEMO_KEY, REPO, clock_env, with_env

# The demo's day, for its emulator and its connector: the emulator's reviews (2023 to mid-2025) are in the
# connector's default analytics window (two years back) only until mid-2027.
DEMO_DAY = "2026-12-06T12:00:00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: Any) -> Tuple[Any, Path]:
    # the demo's default file name, holding an earlier demo's state (a conversations cursor in 2999)
    db = cache_with_state(tmp_path_factory.mktemp("demo") / "demo.duckdb", origins.DEMO)
    run = subprocess.run(
        [sys.executable, "-m", "warehouse.sync", "--demo", "--conversations", "30", "--db", str(db)],
        cwd=REPO, capture_output=True, text=True, timeout=240, env=with_env(clock_env(DEMO_DAY)),
    )
    return run, db


def test_demo_loads_both_streams_with_timestamps_with_time_zone(demo):
    run, db = demo
    assert run.returncode == 0, run.stderr[-3000:]
    # nothing from unrelated libraries: no Google FutureWarning, no PyAirbyte type notice for `content`
    assert "Warning" not in run.stderr and "Could not determine" not in run.stdout + run.stderr
    summary = run.stdout
    assert "conversations" in summary and "Conversations per messaging partner and status" in summary
    # the requests it spent, counted (unit_tests/test_warehouse_streams.py holds them against the emulator's)
    assert re.search(r"^Requests sent to Partoo: [\d,]+ \(13 by the check, [\d,]+ by the read; retries included\)\.$",
                     summary, re.MULTILINE), summary[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        types = dict(con.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'partoo'").fetchall())
        assert types["conversations.last_activity_at"] == "TIMESTAMP WITH TIME ZONE"
        assert types["conversations.created_at"] == "TIMESTAMP WITH TIME ZONE"
        assert types["messages.date"] == "TIMESTAMP WITH TIME ZONE"
        assert con.execute("SELECT COUNT(*) FROM partoo.conversations").fetchone()[0] == 30
        assert con.execute("SELECT COUNT(DISTINCT id) FROM partoo.messages").fetchone()[0] == \
            con.execute("SELECT COUNT(*) FROM partoo.messages").fetchone()[0] > 0
        # the instant survives: the text form and the loaded timestamp agree
        row = con.execute("SELECT CAST(date AS VARCHAR) FROM partoo.messages LIMIT 1").fetchone()[0]
        assert row.endswith("+00")
        # the API key (the demo's is DEMO_KEY) is nowhere in the warehouse: no row of any table (records,
        # PyAirbyte's state and stream tables) holds it, while the same scan finds the state's cursor field
        tables = con.execute("SELECT table_catalog, table_schema, table_name FROM information_schema.tables").fetchall()

        def rows_holding(text):
            return {table: con.execute(
                f'SELECT COUNT(*) FILTER (WHERE CAST(r AS VARCHAR) LIKE ?) FROM "{db_}"."{schema}"."{table}" r',
                [f"%{text}%"]).fetchone()[0] for db_, schema, table in tables}

        assert rows_holding("last_activity_at")["_airbyte_state"] > 0
        assert set(rows_holding(DEMO_KEY).values()) == {0}


def test_the_demo_loads_every_stream_and_joins_reviews_and_conversations_per_business(demo):
    run, db = demo
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Reviews and conversations per business" in run.stdout
    assert "Reviews and conversations per business and month" in run.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'partoo'").fetchall()}
        assert set(ALL_STREAMS + ANALYTICS_STREAMS) <= tables
        types = dict(con.execute("SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                                 "WHERE table_schema = 'partoo' AND column_name LIKE '%_utc'").fetchall())
        assert set(types.values()) == {"TIMESTAMP WITH TIME ZONE"} and len(types) == 17
        # #24: every analytics and report stream loaded rows, and the worked query of docs/partoo.md runs
        for stream in ANALYTICS_STREAMS:
            assert con.execute(f"SELECT COUNT(*) FROM partoo.{stream}").fetchone()[0] > 0, stream
        from warehouse.queries import MONTHLY_REVIEWS_AND_CONVERSATIONS
        monthly = con.execute(MONTHLY_REVIEWS_AND_CONVERSATIONS.format(schema="partoo")).fetchall()
        assert sum(row[2] for row in monthly) == con.execute(
            "SELECT SUM(reviews_count) FROM partoo.review_metrics_daily").fetchone()[0] > 0
        # an instant survives the trip: the offset sent by Partoo and the loaded UTC timestamp agree
        sent, loaded_at = con.execute("SELECT update_date, update_date_utc FROM partoo.reviews "
                                      "WHERE update_date LIKE '%+02:00' LIMIT 1").fetchone()
        assert dt.datetime.fromisoformat(sent) == loaded_at
        rows = con.execute("SELECT COUNT(*) FROM partoo.businesses").fetchone()[0]
    printed = run.stdout.split("Reviews and conversations per business", 1)[1].split("Reviews and conversations per business and month")[0].splitlines()[2:]
    assert len([line for line in printed if line.startswith("  Boulangerie")]) == rows == 6


def test_a_second_demo_syncs_into_an_earlier_demos_file(demo):
    run, db = demo
    assert run.returncode == 0, run.stderr[-3000:]
    assert "holds" not in run.stdout + run.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(f"SELECT origin FROM partoo.{origins.TABLE}").fetchall() == [(origins.DEMO,)]
        cursor = con.execute(
            "SELECT state_json FROM partoo._airbyte_state WHERE stream_name = 'conversations'").fetchone()[0]
    assert "2999" not in cursor  # a full sync, as every demo's, saved its own position


def test_a_real_accounts_sync_refuses_the_demos_file_before_any_request(demo, tmp_path):
    _, db = demo
    key = "real-Key-Zq4-must-not-leak"
    with socket.socket() as listener:  # a request to it would wait in its backlog
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"api_key": key, "base_url": f"http://127.0.0.1:{port}/v2"}))
        run = subprocess.run([sys.executable, "-m", "warehouse.sync", "--config", str(config), "--db", str(db)],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert run.returncode == 1
    assert run.stdout == "" and key not in run.stderr
    assert run.stderr == (
        f"{db} holds the state of a sync from the local Partoo emulator (make demo), not http://127.0.0.1:{port}: "
        "choose another file with DB=path.duckdb (--db), or delete it to start over.\n")
