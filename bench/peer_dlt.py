"""The peer: dlt's `rest_api` source, configured for the same Partoo endpoints as the connector.

This is what a data engineer would write instead of source-partoo: a declarative dlt config with
the conversation list paged by its cursor (`next_cursor` in the body, sent back as `cursor`, 100 a page),
each conversation's messages as a child resource (`conversation_id` taken from the parent's `id`, same
paginator), fetched concurrently (`parallelized: true`), and the key in the `x-APIKey` header. dlt is in
the `bench` extra only (`make bench` installs it), never a runtime dependency of the connector.

bench/run.py runs it as a subprocess, so that its CPU time is measured exactly as the connector's:

    python -m bench.peer_dlt extract --base-url URL [--resources conversations]
    python -m bench.peer_dlt run --base-url URL --duckdb PATH       # extract, normalize, load

The API key is read from PARTOO_API_KEY (default: the emulator's demo key), never from the command line.
It prints one JSON line: the rows of each table and the seconds of each step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

# Set before dlt is imported: no telemetry, and the peer's own defaults are left as they are otherwise.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

PER_PAGE = 100


def rest_api_config(base_url: str, api_key: str, per_page: int = PER_PAGE) -> Dict[str, Any]:
    """dlt rest_api config for GET /v2/conversations and GET /v2/messages?conversation_id=."""
    cursor_paginator = {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"}
    return {
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": {"type": "api_key", "name": "x-APIKey", "api_key": api_key, "location": "header"},
            "paginator": cursor_paginator,
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "replace",
            "endpoint": {"params": {"per_page": per_page}},
        },
        "resources": [
            {
                "name": "conversations",
                "endpoint": {"path": "conversations", "data_selector": "conversations"},
            },
            {
                "name": "messages",
                "endpoint": {
                    "path": "messages",
                    "data_selector": "messages",
                    "params": {"conversation_id": "{resources.conversations.id}"},
                },
                # Each conversation's messages are fetched in dlt's thread pool (extract.workers threads).
                "parallelized": True,
            },
        ],
    }


def partoo_source(base_url: str, api_key: str, resources: Optional[List[str]] = None) -> Any:
    from dlt.sources.rest_api import rest_api_source

    # max_table_nesting=0: nested objects (business, last_message, ...) load as JSON columns, one table per
    # stream, as PyAirbyte loads them; dlt's default would also unnest them into child tables.
    source = rest_api_source(rest_api_config(base_url, api_key), name="partoo", max_table_nesting=0)
    return source.with_resources(*resources) if resources else source


def run(command: str, base_url: str, api_key: str, resources: Optional[List[str]], duckdb_path: Optional[str],
        pipelines_dir: str) -> Dict[str, Any]:
    import dlt

    destination = dlt.destinations.duckdb(duckdb_path) if duckdb_path else None
    pipeline = dlt.pipeline(pipeline_name="partoo_peer", pipelines_dir=pipelines_dir, destination=destination,
                            dataset_name="partoo", progress=None)
    steps: Dict[str, float] = {}
    started = time.perf_counter()
    extract_info = pipeline.extract(partoo_source(base_url, api_key, resources))
    steps["extract_s"] = round(time.perf_counter() - started, 3)
    rows = extracted_rows(extract_info)
    if command == "run":
        started = time.perf_counter()
        pipeline.normalize()
        steps["normalize_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        pipeline.load()
        steps["load_s"] = round(time.perf_counter() - started, 3)
        with pipeline.sql_client() as client:
            rows = {table: client.execute_sql(f"SELECT COUNT(*) FROM {table}")[0][0] for table in rows}
    return {"rows": rows, **steps}


def extracted_rows(extract_info: Any) -> Dict[str, int]:
    """Rows extracted per table, from dlt's own extract metrics (the records are in its load package)."""
    rows: Dict[str, int] = {}
    for metrics in extract_info.metrics.values():
        for step in metrics:
            for table, table_metrics in step["table_metrics"].items():
                if not table.startswith("_dlt"):
                    rows[table] = rows.get(table, 0) + table_metrics.items_count
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["extract", "run"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--resources", help="comma-separated (default: both)")
    parser.add_argument("--duckdb", help="the DuckDB file to load (run)")
    args = parser.parse_args(argv)
    if args.command == "run" and not args.duckdb:
        parser.error("run needs --duckdb")
    api_key = os.environ.get("PARTOO_API_KEY", "demo-key")
    resources = args.resources.split(",") if args.resources else None
    with tempfile.TemporaryDirectory() as pipelines_dir:
        result = run(args.command, args.base_url, api_key, resources, args.duckdb, pipelines_dir)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
