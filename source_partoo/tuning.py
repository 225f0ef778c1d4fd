"""Bounds and shortcuts on airbyte-cdk 7.39.1's runtime objects that the manifest has no word for.

A full sync of both streams reads one messages partition per conversation. airbyte-cdk sizes its
bookkeeping for that with constants (25,000 finished cursors, 10,000 pending partitions) and no
manifest field, so the connector's memory grew with the organization (docs/performance.md); and it
builds a cursor, and parses a cursor value, more often per record than the answer needs. `apply` sets
these bounds and shortcuts on this source's own instances (never on airbyte-cdk's classes), once the
streams are built (SourcePartoo.streams). Records and state are exactly the same with or without it
(unit_tests/test_tuning.py).
"""

from __future__ import annotations

import re
import sys
from collections import OrderedDict
from datetime import datetime
from functools import lru_cache
from typing import Any, List, Mapping, Tuple

from airbyte_cdk.sources.declarative.incremental.concurrent_partition_cursor import ConcurrentPerPartitionCursor
from airbyte_cdk.sources.streams.call_rate import MovingWindowCallRatePolicy
from airbyte_cdk.sources.declarative.requesters.error_handlers.http_response_filter import HttpResponseFilter
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.types import StreamSlice

from source_partoo.components import json_body_or_empty, partition_factory, stream_retriever

# Partitions handed to the thread pool and not yet pruned: each pending one holds its slice and
# request options, each done one a Future. airbyte-cdk allows 10,000 (ThreadPoolManager's
# DEFAULT_MAX_QUEUE_SIZE). Each partition is at least one request, and the spec allows 6,000 a minute (100
# a second): 400 are 4 seconds of work, and the partition generator waits 0.1 s when the pool is full.
MAX_PENDING_PARTITIONS = 400


def apply(source: Any, streams: List[Any]) -> None:
    """Bound the memory of `source`'s read and spare `streams` per-record work; records and state unchanged."""
    _bound_pending_partitions(source)
    _forget_requests_counted(source)
    for stream in streams + _parent_streams(streams):
        cursor = getattr(stream, "_cursor", None)
        _parse_each_value_once(getattr(cursor, "_connector_state_converter", None))
        _filters_read_the_body_parsed_once(stream)
        if type(cursor) is ConcurrentCursor:
            _hash_each_slice_once(stream)
        if isinstance(cursor, ConcurrentPerPartitionCursor) and cursor._use_global_cursor:
            _keep_no_finished_cursors(cursor)
            _one_cursor_per_global_state(cursor)


def _parent_streams(streams: List[Any]) -> List[Any]:
    """The parent streams a substream reads itself (the conversation list inside messages' router)."""
    parents = []
    for stream in streams:
        router = getattr(getattr(stream, "_cursor", None), "_partition_router", None)
        for inner in [router, *vars(router).values()] if router is not None else []:
            parents += [config.stream for config in getattr(inner, "parent_stream_configs", None) or []]
    return parents


def _bound_pending_partitions(source: Any) -> None:
    # The concurrency_level component sets the number of workers, not the pool's queue. The pool is the
    # one ConcurrentDeclarativeSource.__init__ created; the bound is checked by the partition generator
    # (PartitionEnqueuer) before each partition it queues.
    pool = getattr(getattr(source, "_concurrent_source", None), "_threadpool", None)
    executor = getattr(pool, "_threadpool", None)
    if pool is not None and getattr(executor, "_max_workers", 2) < 2:
        # With one worker (num_workers: 1) the partition generator runs on the only thread, and while it
        # waits for the pending partitions to drop under the bound, none of them can run: the sync hangs
        # (airbyte-cdk's own 10,000 hangs it past 10,000 conversations). One worker: no bound; memory then
        # grows by the queued partitions (docs/performance.md).
        pool._max_concurrent_tasks = sys.maxsize
        return
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


def _one_cursor_per_global_state(cursor: ConcurrentPerPartitionCursor) -> None:
    # In global mode every cursor ConcurrentPerPartitionCursor builds is built from the same two values,
    # the global state and the lookback window, which change only when the sync ends
    # (ensure_at_least_one_state_emitted): one for each partition, to make its slice
    # (_generate_slices_from_partition), and one for each record, for the client-side filter
    # (should_be_synced -> _get_cursor). Each is a deepcopy of the state, a cursor built by the model
    # factory (the manifest's start_datetime rendered by Jinja again) and a state conversion. Global mode
    # never observes or closes them: the slice reads the clock when it is made (end_provider), the filter
    # when it filters, and merging the cursor's state again is a no-op. So one cursor per (state, lookback)
    # gives the same slices and the same answers. Outside global mode airbyte-cdk's own method runs.
    build = cursor._create_cursor
    built: List[Tuple[Mapping[str, Any], int, ConcurrentCursor]] = []

    def create_cursor(cursor_state: Any, runtime_lookback_window: int = 0) -> ConcurrentCursor:
        if not cursor._use_global_cursor:
            return build(cursor_state, runtime_lookback_window)
        state = dict(cursor_state or {})
        last = built[-1] if built else None
        if last is None or last[0] != state or last[1] != runtime_lookback_window:
            made = build(cursor_state, runtime_lookback_window)
            # The same formats (the same manifest cursor), so the parses it remembers serve observe too.
            made._connector_state_converter.parse_timestamp = cursor._connector_state_converter.parse_timestamp
            last = (state, runtime_lookback_window, made)
            built[:] = [last]
        return last[2]

    cursor._create_cursor = create_cursor  # type: ignore[method-assign]


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


# Partoo's dates ("2023-01-31 16:22:17.327878+00:00"), the manifest's first cursor_datetime_format.
_PARTOO_FORMAT = "%Y-%m-%d %H:%M:%S.%f%z"
# Offset minutes of 60 or more: fromisoformat carries them into the hours, strptime refuses them.
_PARTOO_SHAPE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}[+-]\d\d:[0-5]\d", re.ASCII)


def _parse_each_value_once(converter: Any) -> None:
    # A record's cursor value is parsed twice, each time by strptime over the manifest's formats in turn:
    # by the client-side filter (should_be_synced) and by the cursor (observe), one right after the other
    # in the same worker thread. A few recent values remembered, per converter, make the second parse a
    # lookup: the same function of the same string, and datetimes are immutable. Values that are not
    # strings, and failures (ValueError, re-raised each time), go to airbyte-cdk's method as before.
    # A value exactly in the shape of the first format, Partoo's, is read by datetime.fromisoformat, which
    # gives the same datetime as strptime with that format (same fields, same UTC offset) 30 times faster:
    # strptime was a fifth of the worker's CPU in a read of the list. Anything else goes the same way as before.
    parse = getattr(converter, "parse_timestamp", None)
    if parse is None or getattr(converter, "_partoo_remembers", False):
        return
    remembered = lru_cache(maxsize=64)(parse)
    formats = getattr(converter, "_input_datetime_formats", None) or []
    fast = bool(formats) and formats[0] == _PARTOO_FORMAT
    shape, fromisoformat = _PARTOO_SHAPE.fullmatch, datetime.fromisoformat

    def parse_timestamp(timestamp: Any) -> Any:
        if type(timestamp) is not str:
            return parse(timestamp)
        if fast and shape(timestamp):
            try:
                return fromisoformat(timestamp)
            except ValueError:  # a 13th month, a 25th hour: strptime says so in its own words
                pass
        return remembered(timestamp)

    converter.parse_timestamp = parse_timestamp
    converter._partoo_remembers = True


def _filters_read_the_body_parsed_once(stream: Any) -> None:
    # Every response goes through the error handler's filters; the manifest's `not_a_page` has a predicate,
    # so airbyte-cdk parses every page's body for it with requests' json (pure Python), and the extractor
    # and the paginator parse it again with orjson. components.json_body parses a body once for all of
    # them (components.py, item 8): the filters get the same value as from their own staticmethod.
    requester = getattr(stream_retriever(stream), "requester", None)
    for response_filter in _response_filters(getattr(requester, "error_handler", None)):
        response_filter._safe_response_json = json_body_or_empty  # type: ignore[method-assign]


def _response_filters(handler: Any) -> List[HttpResponseFilter]:
    """The filters of an error handler (DefaultErrorHandler), of those it wraps (CompositeErrorHandler,
    components.SkipForbidden)."""
    if handler is None:
        return []
    found = [f for f in getattr(handler, "response_filters", None) or [] if isinstance(f, HttpResponseFilter)]
    for inner in getattr(handler, "error_handlers", None) or []:
        found += _response_filters(inner)
    inner = getattr(handler, "error_handler", None)
    if inner is not None and inner is not handler:
        found += _response_filters(inner)
    return found


def _hash_each_slice_once(stream: Any) -> None:
    # ConcurrentCursor.observe looks each record's slice up in a dict keyed by slice, and a StreamSlice's
    # hash is a json.dumps of the slice and a SHA-256, computed for every record (a tenth of the worker's
    # CPU in a read of the list). The partitions this stream makes carry a slice that computes it once;
    # it is the same mapping, equal to and hashing like the slice it replaces.
    factory = partition_factory(stream)
    if factory is None or getattr(factory, "_partoo_hashes_once", False):
        return
    create = factory.create

    def create_partition(stream_slice: Any) -> Any:
        if type(stream_slice) is StreamSlice:
            stream_slice = _SliceHashedOnce(partition=stream_slice._partition, cursor_slice=stream_slice._cursor_slice,
                                            extra_fields=stream_slice._extra_fields)
        return create(stream_slice)

    factory.create = create_partition  # type: ignore[method-assign]
    factory._partoo_hashes_once = True


class _SliceHashedOnce(StreamSlice):
    """A StreamSlice (immutable) whose hash is computed on first use only."""

    def __hash__(self) -> int:
        hashed = self.__dict__.get("_partoo_hash")
        if hashed is None:
            hashed = self.__dict__["_partoo_hash"] = super().__hash__()
        return hashed
