"""Which Partoo API the state saved in a DuckDB cache came from (issue #31): a cache is refused by a sync from
another API, whose positions it would otherwise start from (a real account's sync after the demo's then
loaded 0 of 300 conversations, and the summary showed the demo's rows).

PyAirbyte 0.71.3 keeps the connector's state in the cache's schema, in `_airbyte_state` (a row per stream:
source name, stream, table, state JSON), with no room for where it came from. The job records that beside
it, in a one-row table of its own, `<schema>._partoo_state_origin`: the origin (scheme://host[:port]) of
the config's base_url, else of the environment's server; never a path, a user name or the key. The demo
records DEMO whatever port its emulator listened on this time, so a demo's file stays the next demo's.

The origin is recorded at the start of each read (after the connector's check), so that the state of a read
that was interrupted has its origin too. A cache whose state has no recorded origin (one synced before this
table existed) is taken as the current sync's, with a line saying so; the demo refuses it.

DuckDB and the standard library only: the job vets the file before it imports PyAirbyte or sends a request.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit

TABLE = "_partoo_state_origin"
STATE_TABLE = "_airbyte_state"  # PyAirbyte's (airbyte/caches/_state_backend.py)
SOURCE_NAME = "source-partoo"  # the name the job gives PyAirbyte's source: its state rows' source_name
DEMO = "the local Partoo emulator (make demo)"
SERVERS = {"production": "https://api.partoo.co", "sandbox": "https://api.sandbox.partoo.co"}
_DEFAULT_PORTS = {"https": 443, "http": 80}


class OtherOrigin(Exception):
    """The cache holds state from another API: the message is the one sentence saying what to do."""


def of_config(config: Any) -> Optional[str]:
    """scheme://host[:port] of the API that `config` syncs from, as the connector picks it (base_url when
    set, else the environment's server); None when base_url is not a URL the connector could use (its
    check then says what to fix). The key is never part of it: not the URL's user or password, and
    not inside a host name."""
    if not isinstance(config, Mapping):
        return None
    base_url = config.get("base_url")
    if not base_url:
        return SERVERS["sandbox" if config.get("environment") == "sandbox" else "production"]
    try:
        parts = urlsplit(base_url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except (TypeError, ValueError, AttributeError):
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    key = config.get("api_key")
    if isinstance(key, str) and key.strip():  # a host that holds the key: absurd, but never print it
        host = re.sub(re.escape(key.strip()), "<api_key>", host, flags=re.IGNORECASE)
    origin = f"{scheme}://" + (f"[{host}]" if ":" in host else host)
    return origin if port in (None, _DEFAULT_PORTS[scheme]) else f"{origin}:{port}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def saved(db_path: Path, schema: str) -> Tuple[bool, Optional[str]]:
    """Whether the cache holds the connector's state in `schema`, and the origin recorded for it (None if none)."""
    if not db_path.exists():
        return False, None
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = {row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE lower(table_schema) = lower(?) AND table_name IN (?, ?)",
            [schema, STATE_TABLE, TABLE]).fetchall()}
        state_rows = f"SELECT COUNT(*) FROM {_quoted(schema)}.{STATE_TABLE} WHERE source_name = ?"
        if STATE_TABLE not in tables or not con.execute(state_rows, [SOURCE_NAME]).fetchone()[0]:
            return False, None
        if TABLE not in tables:
            return True, None
        row = con.execute(f"SELECT origin FROM {_quoted(schema)}.{TABLE}").fetchone()
    return True, row[0] if row else None


def streams_with_state(db_path: Path, schema: str) -> Set[str]:
    """The streams whose state PyAirbyte saved in `schema` (none without a state table)."""
    if not saved(db_path, schema)[0]:
        return set()
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        return {row[0] for row in con.execute(f"SELECT stream_name FROM {_quoted(schema)}.{STATE_TABLE} WHERE source_name = ?",
                                              [SOURCE_NAME]).fetchall()}


def vet(db_path: Path, schema: str, origin: str) -> Optional[str]:
    """Raises OtherOrigin when the cache holds state from another origin than `origin`. State without a
    recorded origin (a cache from before this table): a sync takes it as its own and returns the line to print
    saying so; the demo refuses it, as it may be a real account's warehouse (the demo replaces its tables)."""
    holds_state, recorded = saved(db_path, schema)
    if not holds_state or recorded == origin:
        return None
    if recorded is None and origin != DEMO:
        return (f"{db_path} holds state saved before syncs recorded their API origin: it is taken as coming from "
                f"{origin} (if it came from elsewhere, such as an earlier make demo, delete the file and sync again).")
    raise OtherOrigin(
        f"{db_path} holds the state of a sync from {recorded or 'an API it did not record (an older sync)'}, "
        f"not {origin}: choose another file with DB=path.duckdb (--db), or delete it to start over.")


def record(db_path: Path, schema: str, origin: str, business_ids: Any = None, streams: Any = None,
           starts: Optional[dict] = None) -> None:
    """Records `origin` as the one the cache's state comes from, and the businesses that the streams it reads
    (`streams`, None for every stream) read (before PyAirbyte opens the file). The other streams keep the
    businesses recorded for them (the same origin's), since their state stays as it was."""
    import duckdb

    ids = businesses_of(business_ids)
    with duckdb.connect(str(db_path)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {_quoted(schema)}.{TABLE} "
                    "(origin VARCHAR NOT NULL, recorded_at TIMESTAMP WITH TIME ZONE NOT NULL)")
        con.execute(f"ALTER TABLE {_quoted(schema)}.{TABLE} ADD COLUMN IF NOT EXISTS business_ids VARCHAR")
        con.execute(f"ALTER TABLE {_quoted(schema)}.{TABLE} ADD COLUMN IF NOT EXISTS stream_business_ids VARCHAR")
        con.execute(f"ALTER TABLE {_quoted(schema)}.{TABLE} ADD COLUMN IF NOT EXISTS starts VARCHAR")
        before = con.execute(
            f"SELECT origin, business_ids, stream_business_ids, starts FROM {_quoted(schema)}.{TABLE}").fetchone()
        # The starts the states were read from: given (`starts`) for a first or a full read, else those recorded
        # before. A full read of some streams keeps the later of the two: the other streams' states were read
        # from the ones recorded before.
        kept = json.loads(before[3]) if before is not None and before[0] == origin and before[3] else None
        if starts is None or (streams is not None and kept):
            starts = {k: later(v, (starts or {}).get(k)) for k, v in kept.items()} if kept else starts
        if streams is None or before is None or before[0] != origin:
            every_stream, per_stream = json.dumps(ids), {}  # what the file recorded before is no longer true
        else:
            every_stream, per_stream = before[1], json.loads(before[2] or "{}")
            per_stream.update({stream: ids for stream in streams})
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM {_quoted(schema)}.{TABLE}")
        con.execute(f"INSERT INTO {_quoted(schema)}.{TABLE} (origin, recorded_at, business_ids, stream_business_ids, "
                    "starts) VALUES (?, current_timestamp, ?, ?, ?)",
                    [origin, every_stream, json.dumps(per_stream) if per_stream else None,
                     json.dumps(starts) if starts else None])
        con.execute("COMMIT")


# ---- The businesses the state was read for -------------------------------------------------------------
# The connector keeps one position per stream, not per business: a business added to business_ids after a
# sync would get only its records newer than that position, and its history would never load. A sync of some
# streams (STREAMS=a,b) records the businesses of those streams: `business_ids` holds those of every stream
# that `stream_business_ids` (a JSON object: stream name to ids, null for every business) does not name.
NO_CURSOR = {"__ab_no_cursor_state_message": True}  # airbyte-cdk's state of a full-refresh stream


def businesses_of(business_ids: Any) -> Optional[list]:
    """The sorted ids of business_ids, or None for every business (business_ids empty or unset)."""
    return sorted({str(b) for b in business_ids}) if isinstance(business_ids, list) and business_ids else None


def vet_businesses(db_path: Path, schema: str, business_ids: Any, streams: Any = None) -> None:
    """Raises OtherOrigin when business_ids names a business that the saved state of a stream this sync reads
    (`streams`, None for every stream) was not read for (a full refresh reads them all again); nothing when
    the cache holds no state or did not record its businesses. Full-refresh streams read every business on
    every sync: their state does not count."""
    holds_state, _ = saved(db_path, schema)
    if not holds_state:
        return
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = _columns(con, schema)
        per_stream_column = "stream_business_ids" if "stream_business_ids" in columns else "NULL"
        row = con.execute(f"SELECT business_ids, {per_stream_column} FROM {_quoted(schema)}.{TABLE}").fetchone() \
            if "business_ids" in columns else None
        states = con.execute(f"SELECT stream_name, state_json FROM {_quoted(schema)}.{STATE_TABLE} "
                             "WHERE source_name = ?", [SOURCE_NAME]).fetchall()
    if row is None:
        return  # recorded before businesses were: nothing to compare
    per_stream = json.loads(row[1] or "{}")
    wanted = businesses_of(business_ids)
    read_now = sorted(stream for stream, state in states
                      if _has_cursor(state) and (streams is None or stream in streams))
    lacking: dict = {}  # stream: the businesses its state was read for, where that is not every one wanted
    for stream in read_now:
        if stream not in per_stream and row[0] is None:
            continue  # recorded before businesses were: nothing to compare
        read = per_stream[stream] if stream in per_stream else json.loads(row[0])
        if read is not None and (wanted is None or any(b not in read for b in wanted)):
            lacking[stream] = read
    if not lacking:
        return  # each state this sync reads on from was read for every business wanted
    whose = "the saved state" if list(lacking) == read_now else f"the saved state of {', '.join(lacking)}"
    if wanted is None:
        covered = {b for read in lacking.values() for b in read}
        added = f"every business (business_ids is empty), where {whose} covers {len(covered)} only"
    else:
        new = [b for b in wanted if any(b not in read for read in lacking.values())]
        added = f"{', '.join(new)}, which {whose} does not cover"
    raise OtherOrigin(
        f"business_ids now names {added}: an incremental sync would skip its older records. Sync once with "
        "FULL_REFRESH=1 (--full-refresh) to read every business again, or choose another file with DB=path.duckdb.")


def _has_cursor(state_json: str) -> bool:
    """Whether a state row of PyAirbyte's holds a position (an incremental stream's), not a full refresh's marker."""
    try:
        state = json.loads(state_json)["stream"]["stream_state"]
    except (ValueError, TypeError, KeyError):
        return True  # unreadable here: the connector's check of saved states will say; count it as a position
    return state != NO_CURSOR


# ---- The start dates the state was read from -----------------------------------------------------------
# A stream's saved position is later than its start date: moving start_date (or analytics_start_date) earlier,
# or emptying it, would make an incremental sync skip the records in between, for good.

def starts_of(config: Any, today: Optional[str] = None) -> dict:
    """The first moment each kind of stream reads (ISO text; "" for the beginning): start_date, and the analytics'
    first day (analytics_start_date, else start_date's day, else two years before `today`, as the connector)."""
    import datetime as dt

    start = str(config.get("start_date") or "").strip()
    today = today or dt.date.today().isoformat()
    two_years = (dt.date.fromisoformat(today) - dt.timedelta(days=730)).isoformat()
    return {"start_date": _moment(start) if start else "",
            "analytics_start_date": str(config.get("analytics_start_date") or "").strip() or start[:10] or two_years}


def _moment(text: str) -> str:
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text  # the connector refuses it in its own words
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat()


def later(one: Optional[str], other: Optional[str]) -> Optional[str]:
    """The later of two starts ("" is the beginning, None unknown)."""
    if one is None or other is None:
        return one if other is None else other
    return max(one, other)


def _columns(con: Any, schema: str) -> set:
    return {row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE lower(table_schema) = lower(?) AND table_name = ?",
        [schema, TABLE]).fetchall()}


def _recorded(db_path: Path, schema: str, column: str) -> Optional[tuple]:
    """The recorded row's `column` when the cache holds state and recorded it, else None."""
    if not saved(db_path, schema)[0]:
        return None
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(f"SELECT {column} FROM {_quoted(schema)}.{TABLE}").fetchone() if column in _columns(con, schema) else None


def vet_starts(db_path: Path, schema: str, config: Any, streams: Any = None) -> None:
    """Raises OtherOrigin when start_date or the analytics' first day is earlier than the one the saved state was read
    from (a full refresh reads from it again); nothing when the cache holds no state or did not record its starts."""
    row = _recorded(db_path, schema, "starts")
    recorded = json.loads(row[0]) if row and row[0] else {}
    for name, now in starts_of(config).items():
        before = recorded.get(name)
        if before is not None and now < before:
            since = "is empty" if now == "" else f"({now[:19]}) is earlier than"
            raise OtherOrigin(
                f"{name} {since} the start the saved state was read from ({before[:19]}): an incremental sync would "
                "skip the records in between. Sync once with FULL_REFRESH=1 (--full-refresh) to read them, or choose "
                "another file with DB=path.duckdb.")
