"""Bounds and shortcuts on airbyte-cdk 7.39.1's runtime objects that the manifest has no word for.

A full sync of both streams reads one messages partition per conversation. airbyte-cdk sizes its
bookkeeping for that with constants (25,000 finished cursors, 10,000 pending partitions) and no
manifest field, so the connector's memory grew with the organization (docs/performance.md). `apply`
sets these bounds on this source's own instances (never on airbyte-cdk's classes), once the streams
are built (SourcePartoo.streams). Records and state are exactly the same with or without it
(unit_tests/test_tuning.py).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any, Callable, List, Mapping, Optional, Tuple

from airbyte_cdk.sources.declarative.incremental.concurrent_partition_cursor import ConcurrentPerPartitionCursor
from airbyte_cdk.sources.streams.call_rate import MovingWindowCallRatePolicy
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.types import Record

# Partitions handed to the thread pool and not yet pruned: each pending one holds its slice and
# request options, each done one a Future. airbyte-cdk allows 10,000 (ThreadPoolManager's
# DEFAULT_MAX_QUEUE_SIZE); 16 workers (the spec's maximum) finish a few hundred a second at most, and
# the partition generator only waits 0.1 s when the pool is full, so 400 keep every worker busy.
MAX_PENDING_PARTITIONS = 400


def apply(source: Any, streams: List[Any]) -> None:
    """Bound the memory of `source`'s read and spare `streams` per-record work; records and state unchanged."""
    _bound_pending_partitions(source)
    _forget_requests_counted(source)
    for stream in streams + _parent_streams(streams):
        cursor = getattr(stream, "_cursor", None)
        _parse_each_value_once(getattr(cursor, "_connector_state_converter", None))
        if isinstance(cursor, ConcurrentPerPartitionCursor) and cursor._use_global_cursor:
            _keep_no_finished_cursors(cursor)
            _one_cursor_for_the_filter(cursor)


def _parent_streams(streams: List[Any]) -> List[Any]:
    """The parent streams a substream reads itself (the conversation list inside messages' router)."""
    parents = []
    for stream in streams:
        router = getattr(getattr(stream, "_cursor", None), "_partition_router", None)
        for inner in [router, *vars(router).values()] if router is not None else []:
            parents += [config.stream for config in getattr(inner, "parent_stream_configs", None) or []
                        if not isinstance(inner, type)]
    return parents


def _bound_pending_partitions(source: Any) -> None:
    # The concurrency_level component sets the number of workers, not the pool's queue. The pool is the
    # one ConcurrentDeclarativeSource.__init__ created; the bound is checked by the partition generator
    # (PartitionEnqueuer) before each partition it queues.
    pool = getattr(getattr(source, "_concurrent_source", None), "_threadpool", None)
    if pool is not None and pool._max_concurrent_tasks > MAX_PENDING_PARTITIONS:
        # Its warning threshold stays airbyte-cdk's (20,000): the main thread submits what the generator
        # queued, so a few more than the bound can be pending, which is nothing to warn about.
        pool._max_concurrent_tasks = MAX_PENDING_PARTITIONS


def _keep_no_finished_cursors(cursor: ConcurrentPerPartitionCursor) -> None:
    cursor._cursor_per_partition = _NothingKept()


class _NothingKept(OrderedDict):  # type: ignore[type-arg]
    """The finished per-partition cursors of a global-cursor stream: none.

    `global_substream_cursor: true` has no limit of its own: ConcurrentPerPartitionCursor keeps a cursor
    per partition (about 6 KB) until 25,000 (DEFAULT_MAX_PARTITIONS_NUMBER), then copies all their keys
    for every new partition to drop the oldest finished one (_ensure_partition_limit). In global mode a
    partition's cursor is used once, where it is built, to make the partition's slice
    (_generate_slices_from_partition keeps it in a local); observe, close_partition, state and
    should_be_synced never read the dict, and a partition listed twice is recognised by its semaphore.
    A lower limit alone would not do: every partition queued but not yet closed counts (up to 10,000 when
    stdout is slow), and past the limit airbyte-cdk drops in-flight ones with a warning each.
    """

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def _one_cursor_for_the_filter(cursor: ConcurrentPerPartitionCursor) -> None:
    # In global mode, should_be_synced (the client-side incremental filter, per record) builds a new
    # ConcurrentCursor from the global state each time (_get_cursor -> _create_cursor: a deepcopy of the
    # state, a state conversion and a datetime parse). That cursor depends only on the global state and
    # the lookback window, which change only when the sync ends (ensure_at_least_one_state_emitted), and
    # its should_be_synced reads the clock itself (end_provider), so one cursor per (state, lookback)
    # gives the same answer. Outside global mode airbyte-cdk's own method runs.
    per_record: Callable[[Record], bool] = cursor.should_be_synced
    built: List[Tuple[Optional[Mapping[str, Any]], int, ConcurrentCursor]] = []

    def should_be_synced(record: Record) -> bool:
        if not cursor._use_global_cursor or not record.associated_slice:
            return per_record(record)
        state, lookback = cursor._global_cursor, cursor._lookback_window
        if not built or built[-1][0] != state or built[-1][1] != lookback:
            filter_cursor = cursor._get_cursor(record)
            # The same formats (the same manifest cursor), so the parses it remembers serve observe too.
            filter_cursor._connector_state_converter.parse_timestamp = cursor._connector_state_converter.parse_timestamp
            built[:] = [(dict(state) if state else state, lookback, filter_cursor)]
        return built[-1][2].should_be_synced(record)

    cursor.should_be_synced = should_be_synced  # type: ignore[method-assign]


def _forget_requests_counted(source: Any) -> None:
    # The manifest's MovingWindowCallRatePolicy counts each request in pyrate-limiter under the request
    # itself as the item's name, so the window keeps every PreparedRequest sent in the last 61 seconds
    # (headers, cookie jar, hooks: about 2 KB each; 6,100 at 6,000 requests a minute). The name only
    # appears in pyrate-limiter's debug message when the bucket is full; counting under a constant name
    # counts the same.
    budget = getattr(getattr(source, "_constructor", None), "_api_budget", None)
    for policy in getattr(budget, "_policies", None) or []:
        if isinstance(policy, MovingWindowCallRatePolicy) and not getattr(policy, "_partoo_counts_names", False):
            limiter = policy._limiter
            count = limiter.try_acquire
            limiter.try_acquire = lambda request, weight=1: count("request", weight)  # type: ignore[method-assign]
            policy._partoo_counts_names = True  # type: ignore[attr-defined]


def _parse_each_value_once(converter: Any) -> None:
    # A record's cursor value is parsed twice, each time by strptime over the manifest's formats in turn:
    # by the client-side filter (should_be_synced) and by the cursor (observe), one right after the other
    # in the same worker thread. A few recent values remembered, per converter, make the second parse a
    # lookup: the same function of the same string, and datetimes are immutable. Values that are not
    # strings, and failures (ValueError, re-raised each time), go to airbyte-cdk's method as before.
    parse = getattr(converter, "parse_timestamp", None)
    if parse is None or getattr(converter, "_partoo_remembers", False):
        return
    remembered = lru_cache(maxsize=64)(parse)

    def parse_timestamp(timestamp: Any) -> Any:
        return remembered(timestamp) if type(timestamp) is str else parse(timestamp)

    converter.parse_timestamp = parse_timestamp
    converter._partoo_remembers = True
