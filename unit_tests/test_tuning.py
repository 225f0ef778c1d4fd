"""source_partoo/tuning.py: airbyte-cdk's per-sync bookkeeping stays bounded however many conversations
there are, and the records and the state are exactly those of a read without it."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, Dict, List, Tuple

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser
from airbyte_cdk.sources.declarative.incremental import concurrent_partition_cursor
from airbyte_cdk.sources.declarative.incremental.concurrent_partition_cursor import ConcurrentPerPartitionCursor
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.utils.slice_hasher import SliceHasher
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder
from requests import PreparedRequest

from source_partoo import tuning
from source_partoo.source import SourcePartoo

from .conftest import catalog, conversation, last_state, make_config, message

CONVERSATIONS = 120
BOUND = 8  # tuning.MAX_PENDING_PARTITIONS for these tests: well under the number of conversations


def seed(partoo: Any) -> None:
    """120 conversations, the c-th with 2 messages on day i % 28 + 1; its last activity is its last message."""
    partoo.conversations, partoo.messages = [], {}
    for c in range(1, CONVERSATIONS + 1):
        day = f"2024-03-{c % 28 + 1:02d} 10:{c % 60:02d}"
        msgs = [message(c * 100 + k, c, f"{day}:{k:02d}.000000+00:00") for k in range(2)]
        partoo.messages[c] = msgs
        partoo.conversations.append(conversation(c, last=msgs[-1]["date"]))


class Watch:
    """What tuning.apply was given."""

    def __init__(self) -> None:
        self.applied: List[Tuple[Any, List[Any]]] = []

    def cursor(self) -> ConcurrentPerPartitionCursor:
        streams = self.applied[-1][1]
        return next(s._cursor for s in streams if s.name == "messages")


def source_pool(watch: Watch) -> Any:
    return watch.applied[-1][0]._concurrent_source._threadpool


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    monkeypatch.setattr(tuning, "MAX_PENDING_PARTITIONS", BOUND)
    # The per-sync lookback airbyte-cdk saves is the sync's duration in seconds (rounded up): the same for
    # two syncs of well under a second each, unless one crosses a second; fixed here to compare states.
    monkeypatch.setattr(concurrent_partition_cursor.Timer, "finish", lambda self: 1)
    watched = Watch()
    apply = tuning.apply

    def watching_apply(source: Any, streams: List[Any]) -> None:
        watched.applied.append((source, streams))
        apply(source, streams)

    monkeypatch.setattr(tuning, "apply", watching_apply)
    return watched


def sync(mode: SyncMode = SyncMode.full_refresh, state: Any = None, workers: int = 4) -> Any:
    config = make_config(num_workers=workers)
    configured = catalog("conversations", "messages", mode=mode)
    return read(SourcePartoo(catalog=configured, config=config, state=state), config, configured, state=state)


def outcome(output: Any) -> Dict[str, Any]:
    """The records of each stream (in any order: workers finish partitions in any order) and the final
    state of each stream."""
    records: Dict[str, List[str]] = {}
    for m in output.records:
        records.setdefault(m.record.stream, []).append(json.dumps(m.record.data, sort_keys=True))
    return {"records": {k: sorted(v) for k, v in records.items()},
            "state": {name: last_state(output, name) for name in ("conversations", "messages")},
            "warnings": [m.log.message for m in output.logs if m.log.level.value in ("WARN", "ERROR")]}


def untuned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "_bound_pending_partitions", lambda source: None)
    monkeypatch.setattr(tuning, "_forget_requests_counted", lambda source: None)
    monkeypatch.setattr(tuning, "_keep_no_finished_cursors", lambda cursor: None)
    monkeypatch.setattr(tuning, "_one_cursor_per_global_state", lambda cursor: None)
    monkeypatch.setattr(tuning, "_parse_each_value_once", lambda converter: None)
    monkeypatch.setattr(tuning, "_filters_read_the_body_parsed_once", lambda stream: None)
    monkeypatch.setattr(tuning, "_hash_each_slice_once", lambda stream: None)


def test_a_full_sync_keeps_no_finished_cursor_and_a_bounded_pool(partoo: Any, watch: Watch) -> None:
    seed(partoo)
    output = sync()
    assert len([m for m in output.records if m.record.stream == "messages"]) == 2 * CONVERSATIONS
    cursor = watch.cursor()
    assert cursor._use_global_cursor
    assert len(cursor._cursor_per_partition) == 0
    assert cursor._number_of_partitions == CONVERSATIONS  # every partition went through it
    # The partition generator waits while the pool holds this many (how often depends on the threads'
    # timing: bench/run.py's memory figure shows the effect).
    assert source_pool(watch)._max_concurrent_tasks == BOUND
    assert not outcome(output)["warnings"]


def test_one_worker_gets_no_bound_on_pending_partitions_and_the_sync_does_not_hang(partoo: Any, watch: Watch) -> None:
    # With num_workers 1 the partition generator holds the only thread: waiting there for the pending
    # partitions to drop under a bound would wait forever (test_one_list_read.py reads 500 conversations
    # with one worker and 400 as the bound: it hung before this rule).
    seed(partoo)
    result: Dict[str, Any] = {}
    reader = threading.Thread(target=lambda: result.update(output=sync(workers=1)), daemon=True)
    reader.start()
    reader.join(timeout=60)  # returns as soon as the read is done; a hang fails instead of hanging the suite
    assert not reader.is_alive(), "the read hung"
    assert len([m for m in result["output"].records if m.record.stream == "messages"]) == 2 * CONVERSATIONS
    assert source_pool(watch)._max_concurrent_tasks == sys.maxsize


def test_without_tuning_the_same_sync_keeps_every_cursor_and_every_partition(partoo: Any, watch: Watch,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """What the test above guards against (and proof that its watch sees it)."""
    untuned(monkeypatch)
    seed(partoo)
    sync()
    assert len(watch.cursor()._cursor_per_partition) == CONVERSATIONS
    assert source_pool(watch)._max_concurrent_tasks == 10_000


def saved_state() -> Any:
    """Conversations listed again: those active since March 14; messages kept: those since March 20 (less a
    lookback of 1 s), so the client-side filter (should_be_synced) drops the others."""
    return (StateBuilder()
            .with_stream_state("conversations", {"last_activity_at": "2024-03-14 00:00:00.000000+0000"})
            .with_stream_state("messages", {"use_global_cursor": True, "state": {"date": "2024-03-20 00:00:00.000000+0000"},
                                            "lookback_window": 1,
                                            "parent_state": {"conversations": {"last_activity_at": "2024-03-14 00:00:00.000000+0000"}}})
            .build())


def test_records_and_state_are_those_of_a_read_without_tuning(partoo: Any, watch: Watch,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seed(partoo)
    tuned = [outcome(sync()), outcome(sync(SyncMode.incremental, saved_state()))]
    with monkeypatch.context() as m:
        untuned(m)
        plain = [outcome(sync()), outcome(sync(SyncMode.incremental, saved_state()))]
    assert tuned == plain
    days = {json.loads(r)["date"][:10] for r in tuned[1]["records"]["messages"]}
    assert days and min(days) == "2024-03-20"  # the filter did drop messages (March 14 to 19)
    assert tuned[1]["state"]["messages"]["state"] == {"date": "2024-03-28 10:55:01.000000+0000"}


def test_one_cursor_per_global_state_not_one_per_partition_and_per_record(partoo: Any, watch: Watch,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    create = ConcurrentPerPartitionCursor._create_cursor

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        built.append(self._stream_name)
        return create(self, *args, **kwargs)

    monkeypatch.setattr(ConcurrentPerPartitionCursor, "_create_cursor", counting)
    seed(partoo)
    sync()
    # Without tuning: one per partition, to make its slice, and one per record, for the filter.
    assert built.count("messages") == 1


def test_the_request_budget_keeps_no_request(partoo: Any, watch: Watch) -> None:
    seed(partoo)
    sync()
    source = watch.applied[-1][0]
    (policy,) = source._constructor._api_budget._policies
    counted = policy._bucket.items
    assert len(counted) == len(partoo.mocker.request_history) > CONVERSATIONS  # every request, counted
    assert not any(isinstance(item.name, PreparedRequest) for item in counted)


def as_iso_t(partoo: Any) -> None:
    """The seeded dates with a T: a shape the manifest accepts that strptime reads (not Partoo's)."""
    for msgs in partoo.messages.values():
        for m in msgs:
            m["date"] = m["date"].replace(" ", "T")
    for c in partoo.conversations:
        c["last_message"]["date"] = c["last_message"]["date"].replace(" ", "T")


def test_each_cursor_value_is_parsed_once_not_twice(partoo: Any, watch: Watch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client-side filter and the cursor each parse a record's cursor value, one after the other
    (the conversation list read as messages' parent too). Dates in Partoo's own shape skip strptime
    (test_partoo_dates_skip_strptime): these have a T."""
    parsed: List[str] = []
    parse = DatetimeParser.parse

    def counting(self: Any, date: Any, format: str) -> Any:
        parsed.append(date)
        return parse(self, date, format)

    monkeypatch.setattr(DatetimeParser, "parse", counting)
    seed(partoo)
    as_iso_t(partoo)
    tuned = outcome(sync())
    tuned_parses, parsed[:] = len(parsed), []
    with monkeypatch.context() as m:
        untuned(m)
        plain = outcome(sync())
    assert tuned == plain
    assert tuned_parses <= len(parsed) / 2


PARTOO_FORMATS = ["%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"]


def converters() -> Tuple[Any, Any]:
    """The manifest's cursor converter, tuned and plain."""
    made = [CustomFormatConcurrentStreamStateConverter(datetime_format="%Y-%m-%d %H:%M:%S.%f%z",
                                                       input_datetime_formats=list(PARTOO_FORMATS)) for _ in range(2)]
    tuning._parse_each_value_once(made[0])
    return made[0], made[1]


@pytest.mark.parametrize("value", [
    "2023-01-31 16:22:17.327878+00:00", "2023-01-31 16:22:17.000000+02:30", "2024-02-29 23:59:59.999999-05:00",
    "2023-01-31 16:22:17+00:00", "2023-01-31T16:22:17.327878+00:00", "2023-01-31 16:22:17.3278+00:00",
    "2023-01-31 16:22:17.327878+0000", "2023-01-31 16:22:17.327878Z",
    "\u0662\u0660\u0662\u0663-01-31 16:22:17.327878+00:00",  # strptime reads Arabic-Indic digits too
])
def test_a_date_is_read_as_strptime_reads_it(value: str) -> None:
    tuned, plain = converters()
    got, expected = tuned.parse_timestamp(value), plain.parse_timestamp(value)
    assert (got, got.utcoffset(), got.tzinfo) == (expected, expected.utcoffset(), expected.tzinfo)
    assert tuned.output_format(got) == plain.output_format(expected)


@pytest.mark.parametrize("value", [
    "2023-13-31 16:22:17.327878+00:00", "2023-02-30 16:22:17.327878+00:00", "2023-01-31 16:22:17.327878+24:00",
    "2023-01-31 16:22:17.327878", "not a date",
    "2023-01-31 16:22:17.327878+00:60", "2023-01-31 16:22:17.327878-05:99",  # fromisoformat would carry these
])
def test_a_value_that_is_no_date_fails_as_before(value: str) -> None:
    tuned, plain = converters()
    with pytest.raises(ValueError) as expected:
        plain.parse_timestamp(value)
    with pytest.raises(ValueError) as got:
        tuned.parse_timestamp(value)
    assert str(got.value) == str(expected.value)


def test_partoo_dates_skip_strptime(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: List[str] = []
    parse = DatetimeParser.parse
    monkeypatch.setattr(DatetimeParser, "parse", lambda self, date, fmt: parsed.append(date) or parse(self, date, fmt))
    tuned, _ = converters()
    tuned.parse_timestamp("2023-01-31 16:22:17.327878+00:00")
    tuned.parse_timestamp("2023-01-31T16:22:17+00:00")
    assert parsed == ["2023-01-31T16:22:17+00:00"] * 4  # strptime tries the formats in turn: the fourth matches


def test_a_slice_is_hashed_once_not_once_per_record(partoo: Any, watch: Watch, monkeypatch: pytest.MonkeyPatch) -> None:
    """ConcurrentCursor.observe looks up each record's slice: 240 records, a handful of hashes."""
    hashed: List[Any] = []
    real = SliceHasher.hash.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(SliceHasher, "hash", classmethod(lambda cls, *a, **k: hashed.append(1) or real(cls, *a, **k)))
    partoo.conversations = [conversation(c, last=f"2024-03-01 10:{c % 60:02d}:00.000000+00:00") for c in range(1, 241)]
    config = make_config()
    output = read(SourcePartoo(catalog=catalog("conversations"), config=config), config, catalog("conversations"))
    assert len(output.records) == 240
    assert 0 < len(hashed) <= 5
    hashed[:] = []
    with monkeypatch.context() as m:
        untuned(m)
        read(SourcePartoo(catalog=catalog("conversations"), config=config), config, catalog("conversations"))
    assert len(hashed) >= 240
