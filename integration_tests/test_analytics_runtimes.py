"""The analytics and report streams (#24) through both runtimes (`source-partoo` and
`source-declarative-manifest`) against the emulator, both on a fixed day: every record the emulator holds, once;
an incremental second sync that re-reads only its look-backs. (Every fault kind on every new endpoint family, on
a patched clock: unit_tests/test_analytics_faults.py; the error handler is the search endpoints' one, whose faults
the CLI tests of test_cli_against_emulator.py meet in both runtimes.)"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Tuple

import pytest

from .conftest import ANALYTICS_STREAMS, PRIMARY_KEYS, catalog

# A fixed day for the emulator and the connector (clock_at): between the 5th and the 9th, when Partoo already has
# some of December's keyword rows (the emulator serves them from the 5th) but the connector reads a month only
# from the 10th of the next one. The emulator's reviews end that day too, and analytics start 40 days back
# (41 review windows; presence; keywords up to November).
TODAY = dt.date(2027, 1, 7)
LAST_KEYWORD_MONTH = "2026-11-01"
START = (TODAY - dt.timedelta(days=40)).isoformat()
EMULATOR = ("--conversations", "10", "--businesses", "3", "--posts", "150", "--feedback-results", "70",
            "--reviews", "1500", "--reviews-until", TODAY.isoformat())


def keyed(records: List[Dict[str, Any]], stream: str) -> Dict[Tuple[Any, ...], Dict[str, Any]]:
    out = {tuple(r[k] for k in PRIMARY_KEYS.get(stream, ["id"])): r for r in records}
    assert len(out) == len(records), f"{stream}: a primary key was emitted twice"
    return out


def expected(emulator, stream: str) -> Dict[Tuple[Any, ...], Dict[str, Any]]:
    query = {"since": START} if stream in ANALYTICS_STREAMS[:2] else {}
    if stream == "presence_keywords_monthly":
        query = {"since": START[:8] + "01", "until": LAST_KEYWORD_MONTH}  # the connector reads whole months
    rows = emulator.expected(stream, **query)
    return keyed([{k: v for k, v in r.items() if v is not None} for r in rows], stream)


def test_every_new_stream_loads_the_emulators_records_then_a_second_sync_reads_only_its_lookbacks(connector, emulator_factory, clock_at):
    clock_at(f"{TODAY}T12:00:00")
    emulator = emulator_factory(*EMULATOR)
    assert any(k["date"] > LAST_KEYWORD_MONTH for k in emulator.expected("presence_keywords_monthly"))  # arrived early
    config = emulator.config(analytics_start_date=START, num_workers=8)
    first = connector("read", config, catalog=catalog(*ANALYTICS_STREAMS, mode="incremental"), timeout=240)
    assert first.returncode == 0, first.stdout[-3000:]
    for stream in ANALYTICS_STREAMS:
        got, want = keyed(first.records(stream), stream), expected(emulator, stream)
        assert want and got.keys() == want.keys(), stream
        for key, row in want.items():
            assert {k: got[key].get(k) for k in row} == row, (stream, key)
    before = emulator.control("stats")
    second = connector("read", config, catalog=catalog(*ANALYTICS_STREAMS[:3], mode="incremental"),
                       state=first.last_states(), timeout=120)
    assert second.returncode == 0, second.stdout[-3000:]
    after = emulator.control("stats")

    def asked(path: str) -> int:
        return after.get(f"requests /v2/{path}", 0) - before.get(f"requests /v2/{path}", 0)

    # review metrics: from 30 days before the last day that had reviews (the saved position) to tomorrow
    last_review_day = dt.date.fromisoformat(max(d for _, d in keyed(first.records("review_metrics_daily"), "review_metrics_daily")))
    # (one window a day; the last one, today, runs to tomorrow)
    assert asked("review_analytics/metrics") == (TODAY - last_review_day).days + 31
    assert asked("presence_analytics/metrics") == 1  # the last 5 days and today: one window
    assert asked("presence_analytics/keywords") == 0  # no month arrived since: the businesses are listed, nothing more
    assert asked("business/search") == 1
    for stream in ANALYTICS_STREAMS[:3]:
        assert keyed(second.records(stream), stream).keys() <= keyed(first.records(stream), stream).keys()
