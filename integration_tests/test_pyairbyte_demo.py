"""The main job: PyAirbyte runs the installed connector against the emulator into DuckDB."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from .conftest import DEMO_KEY, REPO


def test_demo_loads_both_streams_with_timestamps_with_time_zone(tmp_path):
    db = tmp_path / "warehouse.duckdb"  # the default file name
    run = subprocess.run(
        [sys.executable, "-m", "warehouse.sync", "--demo", "--conversations", "30", "--db", str(db)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # nothing from unrelated libraries: no Google FutureWarning, no PyAirbyte type notice for `content`
    assert "Warning" not in run.stderr and "Could not determine" not in run.stdout + run.stderr
    summary = run.stdout
    assert "conversations" in summary and "Conversations per messaging partner and status" in summary
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
