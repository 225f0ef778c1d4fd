"""The main job: sync every stream of source-partoo into a local DuckDB file through PyAirbyte.

    python -m warehouse.sync --demo              # `make demo`: against the local emulator, into data/demo.duckdb
    python -m warehouse.sync --config cfg.json   # `make sync CONFIG=...`: a real account, into data/warehouse.duckdb

--db chooses the file for either (`DB=...` with make; PARTOO_DUCKDB sets the sync's default, never the demo's).
--streams a,b syncs only these streams (`STREAMS=a,b`: PyAirbyte's stream selection; the others' tables and
state stay as they are); a name the connector does not have is refused in one sentence listing the streams it
has, before any request. --full-refresh (`FULL_REFRESH=1`) reads the selected streams again from the start.

The connector runs as the executable that `make install` put in .venv (so PyAirbyte keeps its state
and a second run is incremental), in PyAirbyte's offline mode so it never calls a registry, through
relay.py, which keeps its error traces for this job to print once.

A file whose saved state came from another API (another base_url's host, the other environment, the demo's
emulator: origin.py) is refused before any request, with one sentence saying what to do.

It runs the connector's check first and stops there on failure, printing the connector's sentence. A
failure during the read prints the connector's own error message(s) once and the log file's path. Either
way it exits with status 1 and no traceback; the connector keeps the API key out of everything it prints.

The summary prints the requests the check and the read sent, counted from airbyte-cdk's debug log line for
each request (relay.py says how).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
# PyAirbyte imports Google's BigQuery and Secret Manager clients, whose google.api_core warns on import
# that Google will stop supporting this Python version: nothing a user of this job can act on.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core\._python_version_support")

from warehouse import origin as origins, queries, relay  # noqa: E402 - after the environment defaults above

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO / "data" / "warehouse.duckdb"
DEMO_DB = REPO / "data" / "demo.duckdb"  # the demo's own file: it never touches the warehouse
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
    from airbyte.types import SQLTypeConverter

    class TimestampTZ(sqlalchemy.types.UserDefinedType):
        cache_ok = True

        def get_col_spec(self, **kw: Any) -> str:
            return "TIMESTAMP WITH TIME ZONE"

    class TypeConverter(SQLTypeConverter):
        """A field of several types (a message's `content`: a string or an object; a review's `comments`: an
        object or an array): PyAirbyte stores such a column as text (JSON text for objects and arrays) but first
        prints "Could not determine airbyte type" for every batch. Same type, quietly."""

        def to_sql_type(self, json_schema_property_def: Dict[str, Any]) -> Any:
            kinds = json_schema_property_def.get("type")
            if isinstance(kinds, list) and len(set(kinds) - {"null"}) > 1:
                return self.get_string_type()
            return super().to_sql_type(json_schema_property_def)

    class TzAwareDuckDBProcessor(DuckDBSqlProcessor):
        type_converter_class = TypeConverter

        def _get_sql_column_definitions(self, stream_name: str) -> Dict[str, Any]:
            columns = super()._get_sql_column_definitions(stream_name)
            return {
                name: TimestampTZ() if isinstance(kind, sqlalchemy.types.TIMESTAMP) and kind.timezone else kind
                for name, kind in columns.items()
            }

    class TzAwareDuckDBCache(DuckDBCache):
        _sql_processor_class = TzAwareDuckDBProcessor

    return TzAwareDuckDBCache(db_path=str(db_path), schema_name=schema)


class SyncFailed(Exception):
    """The job stops: `lines` say why (the connector's own words), `log_file` where the details are."""

    def __init__(self, lines: List[str], log_file: Optional[Path] = None) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.log_file = log_file


RELAY = Path(__file__).resolve().with_name("relay.py")


@contextmanager
def relayed_connector() -> Iterator[Tuple[Path, Path, Path]]:
    """The program PyAirbyte runs as the connector (its `local_executable`), the file where it keeps the
    connector's error traces for main() to print once, and the one where it counts each read's requests
    (relay.py says why and how). A launcher in a private temporary folder: `local_executable` takes one path,
    and the relay runs with this interpreter."""
    with tempfile.TemporaryDirectory(prefix="partoo-sync-") as folder:
        errors, requests = Path(folder) / "errors.jsonl", Path(folder) / "requests.jsonl"
        errors.touch()
        launcher = Path(folder) / "source-partoo"
        launcher.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(str(part)) for part in (
            sys.executable, RELAY, "--count-requests", requests, errors, connector_executable())) + ' "$@"\n')
        launcher.chmod(0o700)
        yield launcher, errors, requests


def counted_requests(requests_file: Path) -> Optional[int]:
    """The requests of the reads the relay ran (one line each), None when it could not count one of them."""
    runs = [json.loads(line) for line in requests_file.read_text().splitlines() if line.strip()] \
        if requests_file.exists() else []
    counts = [run.get("requests") for run in runs]
    return sum(counts) if counts and None not in counts else None


def kept_errors(errors_file: Path) -> List[Dict[str, Any]]:
    """The connector's error traces (their `error` objects) that the relay kept, in the order they came."""
    return [json.loads(line) for line in errors_file.read_text().splitlines() if line.strip()]


def error_lines(errors: List[Dict[str, Any]]) -> List[str]:
    """Each message once: the streams' own errors, else whatever the connector said (its config errors).
    airbyte-cdk's closing summary (no stream) only repeats the streams' errors with HTTP details."""
    own = [e for e in errors if e.get("stream_descriptor")] or errors
    return list(dict.fromkeys(e["message"].strip() for e in own if e.get("message")))


# airbyte-cdk's CheckStream wraps the connector's sentence: repr("Stream conversations is not available: <it>"),
# or "Encountered an error while discovering streams. Error: <it>" for a config problem.
_CHECK_WRAPPERS = re.compile(r"^(Stream \w+ is not available: |Encountered an error while discovering streams\. Error: )")


def sentence_of(status_message: str) -> str:
    """The connector's own sentence in a failed check's status message, for the person at the terminal."""
    message = status_message.strip()
    if message[:1] in "'\"" and message[-1:] == message[:1]:
        try:
            message = str(ast.literal_eval(message))
        except (ValueError, SyntaxError):
            pass
    return _CHECK_WRAPPERS.sub("", message)


def run_connector(command: str, config: Dict[str, Any], *flags: str) -> Tuple[int, List[str], List[Dict[str, Any]]]:
    """`source-partoo COMMAND --config <config> FLAGS...` as a subprocess: its exit code, its output lines, and
    the Airbyte messages among them (not the debug lines of --debug)."""
    with tempfile.TemporaryDirectory(prefix=f"partoo-{command}-") as folder:  # readable by this user only
        path = Path(folder) / "config.json"
        path.write_text(json.dumps(config))
        # The connector's own temporary files (airbyte-cdk's copy of the config) in this folder too.
        completed = subprocess.run([str(connector_executable()), command, "--config", str(path), *flags],
                                   capture_output=True, text=True, timeout=600, cwd=folder,
                                   env={**os.environ, "TMPDIR": folder})
    lines = completed.stdout.splitlines()
    messages: List[Dict[str, Any]] = []
    for line in lines:
        if line.startswith(relay.DEBUG_LINE.decode()):
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return completed.returncode, lines, messages


def errors_of(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The `error` of each error trace among `messages`."""
    return [m["trace"]["error"] for m in messages if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR"]


def estimate_of(messages: List[Dict[str, Any]]) -> Dict[str, Tuple[int, int]]:
    """The requests of a first and of a quiet incremental sync per stream, from check's "Cost estimate" line
    (components.estimate_line); empty without one."""
    line = next((m["log"]["message"] for m in messages if m.get("type") == "LOG"
                 and str(m["log"].get("message", "")).startswith("Cost estimate")), "")
    listed = line.split("first/incremental: ", 1)[1].split(". docs/", 1)[0] if "first/incremental: " in line else ""
    return {name: (int(first.replace(",", "")), int(quiet.replace(",", "")))
            for name, first, quiet in re.findall(r"(\w+) ([\d,]+)/([\d,]+)", listed)}


def check(config: Dict[str, Any]) -> Tuple[Optional[int], Dict[str, Tuple[int, int]]]:
    """The connector's own check (`source-partoo check`), before PyAirbyte is even imported: a config
    that cannot work stops here in seconds, with the connector's sentence (SyncFailed). Run with --debug,
    whose log has one line per request (relay.py): returns how many it sent (None if it logged none), and its
    estimate of a sync's requests per stream (estimate_of)."""
    code, lines, messages = run_connector("check", config, "--debug")
    status: Dict[str, Any] = next((m["connectionStatus"] for m in messages if m.get("type") == "CONNECTION_STATUS"), {})
    if status.get("status") == "SUCCEEDED" and code == 0:
        logged = any(line.startswith(relay.DEBUG_LINE.decode()) for line in lines)
        return (sum(map(relay.is_request, lines)) if logged else None), estimate_of(messages)
    failure = [sentence_of(status["message"])] if status.get("message") else error_lines(errors_of(messages))
    raise SyncFailed(failure or [
        f"source-partoo check failed without saying why (exit code {code}); run "
        f"`{connector_executable()} check --config <your config file>` to see its output."
    ])


# ---- Stream selection (STREAMS=a,b, --streams) -------------------------------------------------------

def requested_streams(text: Optional[str]) -> Optional[List[str]]:
    """The names of --streams (comma-separated, spaces around each ignored, each once, in the order given);
    None without --streams (every stream). Naming none is refused (SyncFailed)."""
    if text is None:
        return None
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise SyncFailed([f"STREAMS (--streams) names no stream ({text!r}): name one or more streams, "
                          "separated by commas, or leave it out to sync every stream."])
    return names


def available_streams(config: Dict[str, Any]) -> List[str]:
    """The streams the connector has, from its discover (which sends no request: the manifest declares them)."""
    code, _, messages = run_connector("discover", config)
    catalog = next((m["catalog"] for m in messages if m.get("type") == "CATALOG"), None)
    if catalog is None:
        raise SyncFailed(error_lines(errors_of(messages)) or [
            f"source-partoo discover failed without saying why (exit code {code}); run "
            f"`{connector_executable()} discover --config <your config file>` to see its output."])
    return [stream["name"] for stream in catalog["streams"]]


def chosen_streams(requested: List[str], available: List[str]) -> List[str]:
    """`requested`, all of them streams of the connector; else SyncFailed with one sentence listing them."""
    unknown = [name for name in requested if name not in available]
    if not unknown:
        return requested
    names = " and ".join([", ".join(unknown[:-1]), unknown[-1]] if len(unknown) > 1 else unknown)
    which = "which is not a stream" if len(unknown) == 1 else "which are not streams"
    raise SyncFailed([f"STREAMS (--streams) names {names}, {which} of source-partoo: choose from "
                      f"{', '.join(available)}."])


@contextmanager
def opening(db_path: Path) -> Iterator[None]:
    """The job's own reads and writes of the DuckDB file: a file it cannot open stops it with a sentence."""
    import duckdb

    try:
        yield
    except duckdb.Error as error:  # another process writing it, or not a DuckDB file
        raise SyncFailed([f"Could not open {db_path}: {str(error).splitlines()[0]}"]) from None


def vet_cache(db_path: Path, schema: str, origin: Optional[str], config: Optional[Dict[str, Any]] = None,
              streams: Optional[List[str]] = None) -> None:
    """Stops the job (SyncFailed) when the cache holds state from another API than `origin`, or (given the
    config of an incremental sync) state of the streams it reads (`streams`, None for every stream) read for
    fewer businesses than its business_ids (origin.py), with its one sentence. No origin (a base_url that the
    connector's check will refuse): nothing to compare."""
    if origin is None:
        return
    try:
        with opening(db_path):
            note = origins.vet(db_path, schema, origin)
            if config is not None:
                origins.vet_businesses(db_path, schema, config.get("business_ids"), streams)
                origins.vet_starts(db_path, schema, config, streams)
    except origins.OtherOrigin as refusal:
        raise SyncFailed([str(refusal)]) from None
    if note:
        print(note, file=sys.stderr, flush=True)


def expected(estimate: Dict[str, Tuple[int, int]], streams: Optional[List[str]], stated: Set[str]) -> Tuple[Optional[int], str]:
    """Check's estimate for the read of `streams` (None: every stream), and what kind of sync it is: a stream without
    saved state (`stated`) costs a first sync, and conversations without a saved messages state reads its whole list
    (the proof of the list's order is in the messages state, which PyAirbyte passes on whatever streams are read)."""
    chosen = [name for name in estimate if streams is None or name in streams]
    new = [name for name in chosen if name not in stated]
    whole = "conversations" in chosen and "conversations" in stated and "messages" not in stated
    total = sum(estimate[name][0 if name in new or (whole and name == "conversations") else 1] for name in chosen)
    kind = "a first sync" if len(new) == len(chosen) else "".join([
        "an incremental sync an hour after the last, with nothing new", f"; a first sync of {', '.join(new)}" if new else "",
        "; conversations reads its whole list without a saved messages state" if whole else ""])
    return (total if chosen else None), kind


class Requests(NamedTuple):
    """The requests a sync sent to Partoo: its check's and its read's (None: not counted), and what check estimated
    for the read (None: no estimate) and of which kind of sync (expected)."""

    check: Optional[int]
    read: Optional[int]
    estimate: Optional[int] = None
    kind: str = "a first sync"

    def line(self) -> str:
        if self.check is None or self.read is None:
            spent = ("Requests sent to Partoo: not counted (the connector's debug log had no line for its requests; "
                     "warehouse/relay.py says what it looks for).")
        else:
            spent = (f"Requests sent to Partoo: {self.check + self.read:,} ({self.check:,} by the check, "
                     f"{self.read:,} by the read; retries included).")
        if self.estimate is None:
            return spent
        return f"{spent}\n  check's estimate for the read: about {self.estimate:,} ({self.kind})."


def sync(config: Dict[str, Any], db_path: Path, schema: str = "partoo", full_refresh: bool = False,
         origin: Optional[str] = None, streams: Optional[List[str]] = None):
    """Check, then read `streams` (None: every stream) into the DuckDB file: the cache, the rows of each stream
    read, and the requests the check and the read sent (Requests)."""
    check_requests, estimate = check(config)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with opening(db_path):
        stated = set() if full_refresh else origins.streams_with_state(db_path, schema)
    first_read = not stated  # the starts the states are read from, recorded below
    if origin is not None:  # before the read: the state it saves, even if it is interrupted, has its origin
        with opening(db_path):
            origins.record(db_path, schema, origin, config.get("business_ids"), streams,
                           origins.starts_of(config) if first_read else None)
    import airbyte as ab  # imported late: the demo dependency is only needed here
    from airbyte.exceptions import PyAirbyteError

    with relayed_connector() as (connector, errors, requests):
        source = ab.get_source("source-partoo", local_executable=connector, install_if_missing=False)
        source.set_config(config, validate=False)  # the check above has said what is wrong with it, if anything
        if streams is None:
            source.select_all_streams()
        else:
            source.select_streams(streams)  # known to the connector: chosen_streams() checked them
        cache = tz_aware_duckdb_cache(db_path, schema)
        try:
            result = source.read(cache=cache, force_full_refresh=full_refresh)
        except PyAirbyteError as failure:
            raise SyncFailed(error_lines(kept_errors(errors)) or [failure.get_message()], failure.log_file) from None
        spent = Requests(check_requests, counted_requests(requests), *expected(estimate, streams, stated))
    return cache, {name: len(dataset) for name, dataset in result.streams.items()}, spent


def summarize(cache: Any, db_path: Path, schema: str, counts: Dict[str, int], elapsed: float,
              requests: Optional[Requests] = None) -> str:
    from sqlalchemy import text

    lines = [f"Synced into {db_path} (schema {schema}) in {elapsed:.1f} s; rows in each table:"]
    width = max(map(len, counts), default=0)
    for name, rows in sorted(counts.items()):
        lines.append(f"  {name:<{width}} {rows:>8} rows")
    with cache.get_sql_engine().connect() as con:
        types = dict(con.execute(text(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = :schema AND column_name IN ('last_activity_at', 'created_at', 'date')"
        ), {"schema": schema}).fetchall())
        written = [f"{k} {v}" for k, v in sorted(types.items()) if k.split(".")[0] in counts]  # this sync's tables
        if written:
            lines.append("  timestamp columns: " + ", ".join(written))
        if requests is not None:
            lines.append(requests.line())
        tables = {row[0] for row in con.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"), {"schema": schema})}
        if "conversations" not in tables:  # a file synced with STREAMS that never named it
            lines.append("Conversations per messaging partner and status: not loaded (conversations missing).")
        else:
            lines.append("Conversations per messaging partner and status:")
            rows = con.execute(text(SUMMARY_QUERY.format(schema=schema))).fetchall()
            lines.append(f"  {'partner':<12} {'status':<8} {'count':>6}  latest activity")
            for partner, status, count, latest in rows:
                lines.append(f"  {str(partner):<12} {str(status):<8} {count:>6}  {latest}")
        lines.extend(queries.reviews_and_conversations_per_business(con, schema))
        lines.extend(queries.reviews_and_conversations_per_month(con, schema))
    return "\n".join(lines)


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--demo", action="store_true", help="start the local emulator and sync from it")
    mode.add_argument("--config", type=Path, help="a source-partoo config JSON file (a real Partoo account)")
    parser.add_argument("--db", type=Path, help=f"the DuckDB file (default: {DEMO_DB.relative_to(REPO)} for --demo, "
                                                f"else $PARTOO_DUCKDB or {DEFAULT_DB.relative_to(REPO)})")
    parser.add_argument("--schema", default="partoo")
    parser.add_argument("--conversations", type=int, default=3000, help="emulator size (--demo)")
    parser.add_argument("--full-refresh", action="store_true", help="ignore the saved state")
    parser.add_argument("--streams", metavar="A,B", help="sync only these streams (comma-separated names; default: "
                                                          "every stream)")
    args = parser.parse_args(argv)
    if args.db is None:
        args.db = DEMO_DB if args.demo else Path(os.environ.get("PARTOO_DUCKDB", DEFAULT_DB))
    if args.db.stem == args.schema:
        # DuckDB names the catalog after the file: a schema of the same name is ambiguous.
        parser.error(f"--db {args.db.name} and --schema {args.schema} share a name; choose another file name or schema")
    return args


def main(argv: Optional[list] = None) -> int:
    """The job, with PyAirbyte's temporary files in a folder of its own: PyAirbyte writes the connector's config,
    API key included, to a temporary file readable by every user while the connector runs; in this folder
    (this user's only, removed when the job ends) nobody else can read it, and nothing is left behind."""
    private = tempfile.mkdtemp(prefix="partoo-job-")
    os.environ.setdefault("AIRBYTE_TEMP_DIR", private)  # read when PyAirbyte is first imported (sync())
    try:
        return run(argv)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def run(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    emulator = None
    try:
        if args.demo:
            config, origin = dict(DEMO_CONFIG), origins.DEMO  # every run's emulator, whatever its port
        else:
            try:
                config = json.loads(args.config.read_text())
            except (OSError, ValueError) as error:
                print(f"Could not read the config file {args.config} ({type(error).__name__}): pass a JSON file.",
                      file=sys.stderr)
                return 1
            origin = origins.of_config(config)
        streams = requested_streams(args.streams)
        if streams is not None:
            streams = chosen_streams(streams, available_streams(config))
        vet_cache(args.db, args.schema, origin, None if args.full_refresh else config, streams)
        if args.demo:
            emulator, url = start_emulator(args.conversations)
            config["base_url"] = url
            print(f"Partoo emulator at {url} with {args.conversations} conversations", flush=True)
        started = time.monotonic()
        cache, counts, requests = sync(config, args.db, args.schema, full_refresh=args.full_refresh or args.demo,
                                       origin=origin, streams=streams)
        print(summarize(cache, args.db, args.schema, counts, time.monotonic() - started, requests), flush=True)
    except SyncFailed as failure:
        if failure.log_file:  # the read began: PyAirbyte's progress display ends without a newline
            print(file=sys.stderr)
        print("\n".join(failure.lines), file=sys.stderr)
        if failure.log_file:
            print(f"The connector's log: {failure.log_file}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
