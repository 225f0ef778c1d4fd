"""The main job: sync every stream of source-partoo into a local DuckDB file through PyAirbyte.

    python -m warehouse.sync --demo              # `make demo`: against the local emulator
    python -m warehouse.sync --config cfg.json   # `make sync CONFIG=...`: a real account

The connector runs as the executable that `make install` put in .venv (so PyAirbyte keeps its state
and a second run is incremental), in PyAirbyte's offline mode so it never calls a registry.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

from warehouse import queries  # noqa: E402 - after the environment defaults above

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO / "data" / "warehouse.duckdb"
# Embedded defaults for the demo: the emulator's key, no client-side limit beyond what it can serve.
DEMO_CONFIG = {"api_key": "demo-key", "requests_per_minute": 6000, "num_workers": 8}

SUMMARY_QUERY = """
SELECT messaging_partner, status, COUNT(*) AS conversations,
       MAX(last_activity_at) AS latest_activity
FROM {schema}.conversations
GROUP BY ALL ORDER BY conversations DESC, messaging_partner, status
"""


def connector_executable() -> Path:
    found = Path(sys.executable).with_name("source-partoo")
    if not found.exists():
        sys.exit("source-partoo is not installed in this Python environment: run `make install` first.")
    return found


def start_emulator(conversations: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "partoo_emulator", "--port", "0", "--conversations", str(conversations)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        sys.exit("the Partoo emulator did not start")
    return proc, url


def tz_aware_duckdb_cache(db_path: Path, schema: str) -> Any:
    """A DuckDBCache whose timestamp-with-time-zone columns really are TIMESTAMP WITH TIME ZONE.

    PyAirbyte 0.71.3's DuckDB loader writes each column type with str(sqlalchemy_type), which renders
    TIMESTAMP(timezone=True) as plain TIMESTAMP; DuckDB then drops the offset of
    '2023-01-31 16:22:17+02:00' without converting it. Declaring those columns as TIMESTAMPTZ loads
    the right instant.
    """
    import sqlalchemy
    from airbyte.caches.duckdb import DuckDBCache
    from airbyte._processors.sql.duckdb import DuckDBSqlProcessor

    class TimestampTZ(sqlalchemy.types.UserDefinedType):
        cache_ok = True

        def get_col_spec(self, **kw: Any) -> str:
            return "TIMESTAMP WITH TIME ZONE"

    class TzAwareDuckDBProcessor(DuckDBSqlProcessor):
        def _get_sql_column_definitions(self, stream_name: str) -> Dict[str, Any]:
            columns = super()._get_sql_column_definitions(stream_name)
            return {
                name: TimestampTZ() if isinstance(kind, sqlalchemy.types.TIMESTAMP) and kind.timezone else kind
                for name, kind in columns.items()
            }

    class TzAwareDuckDBCache(DuckDBCache):
        _sql_processor_class = TzAwareDuckDBProcessor

    return TzAwareDuckDBCache(db_path=str(db_path), schema_name=schema)


def sync(config: Dict[str, Any], db_path: Path, schema: str = "partoo", full_refresh: bool = False):
    import airbyte as ab  # imported late: the demo dependency is only needed here

    db_path.parent.mkdir(parents=True, exist_ok=True)
    source = ab.get_source(
        "source-partoo",
        local_executable=connector_executable(),
        config=config,
        streams="*",
        install_if_missing=False,
    )
    cache = tz_aware_duckdb_cache(db_path, schema)
    result = source.read(cache=cache, force_full_refresh=full_refresh)
    return cache, {name: len(dataset) for name, dataset in result.streams.items()}


def summarize(cache: Any, db_path: Path, schema: str, counts: Dict[str, int], elapsed: float) -> str:
    from sqlalchemy import text

    lines = [f"Synced into {db_path} (schema {schema}) in {elapsed:.1f} s:"]
    for name, rows in sorted(counts.items()):
        lines.append(f"  {name:<14} {rows:>8} rows")
    with cache.get_sql_engine().connect() as con:
        types = dict(con.execute(text(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = :schema AND column_name IN ('last_activity_at', 'created_at', 'date')"
        ), {"schema": schema}).fetchall())
        lines.append("  timestamp columns: " + ", ".join(f"{k} {v}" for k, v in sorted(types.items())))
        lines.append("Conversations per messaging partner and status:")
        rows = con.execute(text(SUMMARY_QUERY.format(schema=schema))).fetchall()
        lines.append(f"  {'partner':<12} {'status':<8} {'count':>6}  latest activity")
        for partner, status, count, latest in rows:
            lines.append(f"  {str(partner):<12} {str(status):<8} {count:>6}  {latest}")
        lines.extend(queries.reviews_and_conversations_per_business(con, schema))
    return "\n".join(lines)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--demo", action="store_true", help="start the local emulator and sync from it")
    mode.add_argument("--config", type=Path, help="a source-partoo config JSON file (a real Partoo account)")
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("PARTOO_DUCKDB", DEFAULT_DB)))
    parser.add_argument("--schema", default="partoo")
    parser.add_argument("--conversations", type=int, default=3000, help="emulator size (--demo)")
    parser.add_argument("--full-refresh", action="store_true", help="ignore the saved state")
    args = parser.parse_args(argv)
    if args.db.stem == args.schema:
        # DuckDB names the catalog after the file: a schema of the same name is ambiguous.
        parser.error(f"--db {args.db.name} and --schema {args.schema} share a name; choose another file name or schema")

    emulator = None
    try:
        if args.demo:
            emulator, url = start_emulator(args.conversations)
            config = dict(DEMO_CONFIG, base_url=url)
            print(f"Partoo emulator at {url} with {args.conversations} conversations", flush=True)
        else:
            config = json.loads(args.config.read_text())
        started = time.monotonic()
        cache, counts = sync(config, args.db, args.schema, full_refresh=args.full_refresh or args.demo)
        print(summarize(cache, args.db, args.schema, counts, time.monotonic() - started), flush=True)
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
