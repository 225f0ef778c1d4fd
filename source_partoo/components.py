"""What manifest.yaml cannot say. Each class says what it does and why YAML cannot.

Reading:     ConversationListPagination, ConversationsByLastActivity, OncePerActivity, PartooPages,
             PartooRecords (ReviewReplies, AnalyticsRows, PublisherStates), AddUtcTimestamps
Requests:    ApiKeyForPartooOnly, StopAfterConfigError, UnreachableServer, SkipForbidden
Config:      SetAsideInvalidConfig, ReportConfigProblem, ConfiguredBusinessesExist
Saved state: CheckSavedState
"""

import json
import logging
import re
import socket
import ssl
from array import array
from dataclasses import InitVar, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Tuple
from urllib.parse import urljoin, urlsplit

import requests
from isodate import parse_duration

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser
from airbyte_cdk.sources.declarative.extractors import DpathExtractor
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.interpolation.macros import format_datetime
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.declarative.partition_routers import PartitionRouter, SubstreamPartitionRouter
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.cursor_pagination_strategy import (
    CursorPaginationStrategy,
)
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import PaginationStrategy
from airbyte_cdk.sources.declarative.requesters.requester import HttpMethod, Requester
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import (
    ConfigTransformation,
)
from airbyte_cdk.sources.declarative.validators import ValidationStrategy
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.types import Config, Record, StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

_LOGGER = logging.getLogger("airbyte")
_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_NO_DATE = datetime.min.replace(tzinfo=_UTC)
_MICROSECOND = timedelta(microseconds=1)


def _date(value: Any) -> datetime:
    """Partoo's "2023-01-31 16:22:17.327878+00:00" (or any ISO 8601 form) as an aware datetime; else _NO_DATE."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return _NO_DATE
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)


def _last_activity(record: Any) -> Optional[str]:
    """A conversation's last activity: its last message's date, else its creation date (as AddFields writes it)."""
    if not isinstance(record, Mapping):
        return None
    last = record.get("last_message")
    return (last.get("date") if isinstance(last, Mapping) else None) or record.get("created_at")


def _partition_key(stream_slice: Optional[StreamSlice]) -> str:
    return json.dumps(dict(stream_slice.partition), sort_keys=True, default=str) if stream_slice else ""


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_list(body: Any) -> Optional[List[Any]]:
    """The first list at the top of a JSON object: a page's records, whatever its key."""
    return next((v for v in body.values() if isinstance(v, list)), None) if isinstance(body, dict) else None


def _where(response: requests.Response, stream_slice: Optional[StreamSlice] = None) -> str:
    """"GET /v2/conversations" and the partition, for messages about one request."""
    partition = dict(stream_slice.partition) if stream_slice else {}
    request = response.request
    return f"{request.method} {(request.path_url or '').split('?')[0]}" + (f", {partition}" if partition else "")


def _broken(message: str, internal: str) -> AirbyteTracedException:
    """A server answer that would make the stream loop: stop with a sentence."""
    return AirbyteTracedException(
        message=f"{message} Retry later, and report it to Partoo support if it persists.",
        internal_message=internal, failure_type=FailureType.system_error,
    )


# --- Reading --------------------------------------------------------------------------------------


class _ListRead:
    """One read of a cursor-paginated list: the cursors of this pass (a loop guard) and, for the conversation
    list, what the passes saw. Partoo pages by position, so a list that changes while it is paged shifts:
    down when a conversation moves above the read position (the one at the page boundary is listed twice,
    the one that moved is missed), up when one above it is deleted or moves below it (`count` drops, or an id
    comes back with another activity: the one at the boundary is missed). A pass that saw the list shift up,
    or shift down in a list not newest first, is followed by a whole pass (at most 3); one that only shifted
    down in a list newest first, by a pass over the top that stops at the first page seen whole (at most 10)."""

    def __init__(self, stop_before: Optional[datetime]) -> None:
        self.passes = self.full_passes = 0
        self.known: Dict[Any, int] = {}  # id -> hash of its activity, over the previous passes
        self.stop_before = stop_before  # the early stop, while every page is newest first
        self.start_pass(top_only=False)

    def start_pass(self, top_only: bool) -> None:
        self.passes += 1
        self.full_passes += not top_only
        self.top_only, self.cursors, self.listed = top_only, set(), {}
        self.count: Optional[int] = None
        self.up = self.down = self.stopped_early = False
        self.newest_first, self.last = True, None

    def observe(self, records: List[Any], count: Any) -> bool:
        """Note a page; True when it ends the pass early: a pass over the top reached a page seen whole
        before, or the page reaches below stop_before in a list newest first."""
        seen_before = bool(records)
        for record in records:
            key = record.get("id") if isinstance(record, dict) else None
            if key is None:
                seen_before = False
                continue
            activity = _last_activity(record)
            hashed = hash(activity)
            if key in self.listed:
                self.down, self.up = self.down or self.listed[key] == hashed, self.up or self.listed[key] != hashed
            self.listed[key] = hashed
            seen_before = seen_before and self.known.get(key) == hashed
            if activity is not None:
                when = _date(activity)
                if self.last is not None and when > self.last:
                    self.newest_first, self.stop_before = False, None
                self.last = when
        if isinstance(count, int) and not isinstance(count, bool):
            self.up |= self.count is not None and count < self.count
            self.down |= self.count is not None and count > self.count
            self.count = count
        if self.top_only and seen_before and not self.up and self.newest_first:
            return True
        self.stopped_early = self.stop_before is not None and self.last is not None and self.last < self.stop_before
        return self.stopped_early

    def next_pass(self) -> Optional[bool]:
        """At the end of a pass: None when the read is complete, else whether the next pass reads the top only."""
        missing = not self.top_only and not self.stopped_early and self.count is not None and len(self.listed) < self.count
        self.known.update(self.listed)
        if self.up or ((self.down or missing) and not self.newest_first):
            return False if self.full_passes < 3 else None
        if self.down or missing:
            return True if self.passes < 10 else None
        return None


@dataclass
class ConversationListPagination(CursorPaginationStrategy):
    """Partoo's cursor pagination (the manifest's cursor_value and stop_condition), which never loops and, with
    `detect_movement` (the conversation list), never misses a conversation that moved while it was paged.

    - A cursor this pass already returned, or an empty page that still carries one, stops the stream.
    - With detect_movement, a list that moved is read again (_ListRead); a new pass is the token
      {"pass": n}, for which the manifest sends no cursor.
    - With detect_movement, an incremental read of a list whose every page so far lists the newest activity
      first stops at the first page older than the lowest activity its stream reads (the cursor's slice
      start) minus `order_margin`. The whole list is read at least once in every block of
      `full_list_every_hours` (UTC, from 1970): when the slice start is in an earlier block than the sync.
    Why Python: a stop_condition sees one page, never the pages before it. The history is kept per
    partition (the strategy is shared by every partition of the stream) and dropped when the read ends.
    """

    detect_movement: bool = False
    order_margin: str = "PT1H"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._margin = parse_duration(self.order_margin)
        self._reads: Dict[str, _ListRead] = {}

    def _stop_before(self, stream_slice: Optional[StreamSlice]) -> Optional[datetime]:
        hours = self.config.get("full_list_every_hours", 24)
        start = (stream_slice.cursor_slice if stream_slice else {}).get("start_time")
        position, now = _date(start), _date(self.config.get("_partoo_sync_started_at"))
        if not isinstance(hours, int) or hours <= 0 or position <= _EPOCH or now is _NO_DATE:
            return None
        block = timedelta(hours=hours)
        if (position - _EPOCH) // block != (now - _EPOCH) // block:
            return None
        floor = _date(self.config.get("_partoo_start_datetime"))
        return floor - timedelta(hours=1) if position <= floor else position - self._margin

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        token = super().next_page_token(response, last_page_size, last_record, last_page_token_value,
                                        page_size_override=page_size_override, stream_slice=stream_slice)
        key = _partition_key(stream_slice)
        read = self._reads.get(key) if last_page_token_value is not None else None
        if read is None:
            read = self._reads[key] = _ListRead(self._stop_before(stream_slice) if self.detect_movement else None)
        elif isinstance(last_page_token_value, dict):
            read.start_pass(top_only=last_page_token_value["top_only"])
        records: List[Any] = [None] * last_page_size  # those Partoo sent, parsed again only where needed
        ends_pass = False
        if self.detect_movement or (token is not None and not last_page_size):
            body = _body(response)
            records = _first_list(body) or []
            if self.detect_movement:
                ends_pass = read.observe(records, body.get("count") if isinstance(body, dict) else None)
        if token is None or ends_pass:
            top_only = read.next_pass() if self.detect_movement else None
            if top_only is not None:
                _LOGGER.info("The list changed while it was read (%s, pass %d): reading %s again so that no "
                             "conversation is missed.", _where(response, stream_slice), read.passes,
                             "its top" if top_only else "it")
                return {"pass": read.passes + 1, "top_only": top_only}
            del self._reads[key]
            if self.detect_movement and (read.up or read.down):
                _LOGGER.warning("The list kept changing during %d successive reads (%s): a conversation that moved "
                                "at the wrong moment in every read may be read only by the next sync.",
                                read.passes, _where(response, stream_slice))
            return None
        token = str(token)
        if token in read.cursors or not records:
            del self._reads[key]
            if records:
                raise _broken(f"Partoo returned a pagination cursor it had already returned ({_where(response, stream_slice)}); "
                              "the sync stopped instead of reading the same pages forever.", "repeated next_cursor")
            raise _broken(f"Partoo returned an empty page that still carries a next cursor ({_where(response, stream_slice)}); "
                          "the sync stopped instead of following cursors that bring no records.", "empty page with a cursor")
        read.cursors.add(token)
        return token


@dataclass
class ConversationsByLastActivity(PartitionRouter):
    """The messages partitions, one per conversation, oldest last activity first, with a parent state that
    advances as they are handed out, so that an interrupted sync resumes where it stopped.

    `conversations` is the manifest's SubstreamPartitionRouter (airbyte-cdk seeds its parent stream with the
    saved position and reads the list through it); this router reads it whole, then hands out the
    conversations by last activity. airbyte-cdk's per-partition cursor saves the state this reports for a
    partition once it and every partition before it are done. The position is never later than the sync's
    start: in a list not newest first, a conversation read early whose activity changes during the read keeps
    its place, so a later one may carry a newer activity; the next sync lists it again. Why Python: no
    manifest component orders partitions or derives a parent state from them.
    """

    conversations: SubstreamPartitionRouter
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    state_datetime_format: str = "%Y-%m-%d %H:%M:%S.%f%z"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        parent = self.conversations.parent_stream_configs[0]
        self._parent: str = parent.stream.name
        self._cursor_field: str = parent.stream.cursor.cursor_field.cursor_field_key
        self._field: str = str(parent.partition_field.eval(self.config))  # type: ignore[union-attr]
        started = _date(self.config.get("_partoo_sync_started_at"))
        self._started = None if started is _NO_DATE else started
        self._initial: Optional[Mapping[str, Any]] = None
        self._handed_out: Optional[int] = None  # microseconds since 1970 of the latest activity handed out
        self._finished = False

    def stream_slices(self) -> Iterable[StreamSlice]:
        self._initial = self.conversations.get_stream_state()
        activity: Dict[Any, datetime] = {}  # a conversation listed twice counts once, with its latest activity
        for listed in self.conversations.stream_slices():
            key, when = listed.partition[self._field], _date(listed.extra_fields.get(self._cursor_field))
            if key not in activity or activity[key] < when:
                activity[key] = when
        keys = sorted(activity, key=activity.__getitem__)  # stable: ties keep the list's order
        # 16 bytes per conversation while the messages are read, not a (datetime, id) pair (about 110).
        micros = array("q", ((activity[k] - _NO_DATE) // _MICROSECOND for k in keys))
        del activity
        for key, when in zip(keys, micros):
            if when and (self._handed_out is None or when > self._handed_out):
                self._handed_out = when
            yield StreamSlice(partition={self._field: key, "parent_slice": {}}, cursor_slice={})
        self._finished = True

    def get_stream_state(self) -> Optional[Mapping[str, Any]]:
        if self._finished or self._initial is None:
            state = self.conversations.get_stream_state()
            saved = _date(((state or {}).get(self._parent) or {}).get(self._cursor_field))
            return state if saved is _NO_DATE or self._started is None else self._position(saved)
        if self._handed_out is None:
            return self._initial
        return self._position(_NO_DATE + self._handed_out * _MICROSECOND)

    def _position(self, when: datetime) -> Mapping[str, Any]:
        when = min(when, self._started) if self._started else when
        return {self._parent: {self._cursor_field: when.astimezone(_UTC).strftime(self.state_datetime_format)}}

    def get_request_params(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_params(**kwargs)

    def get_request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_headers(**kwargs)

    def get_request_body_data(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_body_data(**kwargs)

    def get_request_body_json(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_body_json(**kwargs)


@dataclass
class OncePerActivity(DpathExtractor):
    """DpathExtractor, except that a conversation is extracted once per last activity in a read: a list read
    again because it moved (ConversationListPagination) lists some conversations twice, and a full refresh
    into Overwrite would load them twice. Keeps id -> hash of the activity, one integer per conversation.
    Why Python: a record filter sees one page (and airbyte-cdk replaces it on a client-side incremental
    stream), and no transformation drops a record."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._first: Dict[Any, Optional[int]] = {}
        self._again: set = set()

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for record in super().extract_records(response):
            key = record.get("id") if isinstance(record, dict) else None
            key = key if isinstance(key, (str, int, float, type(None))) else repr(key)
            activity = hash(_last_activity(record))
            seen = self._first.get(key, self)
            if seen is self:
                self._first[key] = activity
            elif seen == activity or (key, activity) in self._again:
                continue
            else:
                self._again.add((key, activity))
            yield record


@dataclass
class PartooPages(PaginationStrategy):
    """Partoo's page numbers: page 1, then the next page until page >= max_page or an empty list; a body
    without max_page is one answer, unless `short_pages` (GET /publisher_states, whose `count` is this page's):
    then the next page until a page is empty, or shorter than both the page size and the page before it (a
    server that ignores per_page serves short pages that are not the last). Never stops on a short page
    otherwise: Partoo may serve 30 records when asked for 100. Stops the stream, instead of looping, on a page
    number that does not advance (or a page with the very items of the one before) and on a max_page that
    grew on 3 pages in a row or past twice its first value + 10. `list_key` ($parameters): the list's key.
    Why Python: PageIncrement stops on a short page and never sees max_page; a CursorPagination template sees
    one page, never the pages before it (kept here per partition, dropped when the read ends)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    page_size: Optional[Any] = None
    short_pages: bool = False

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._list_key = str(parameters.get("list_key") or "")
        size = InterpolatedString.create(str(self.page_size or ""), parameters=parameters).eval(self.config)
        self._size = int(size) if size not in (None, "") else None
        self._reads: Dict[str, Tuple[Any, ...]] = {}

    @property
    def initial_token(self) -> Optional[Any]:
        return 1

    def get_page_size(self) -> Optional[int]:
        return self._size

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        asked, key, body = int(last_page_token_value or 1), _partition_key(stream_slice), _body(response)
        before = self._reads.pop(key, None) if asked > 1 else None
        items = (body.get(self._list_key) if self._list_key in body else _first_list(body)) if isinstance(body, dict) else None
        if not items or not isinstance(items, (list, dict)):
            return None
        answered, max_page = body.get("page"), body.get("max_page")
        if isinstance(answered, int) and not isinstance(answered, bool) and answered != asked:
            raise _broken(f"Partoo answered page {answered} when asked for page {asked} ({_where(response)}): the page "
                          "number does not advance, so the sync stopped instead of reading the same page forever.",
                          f"page {answered} != requested {asked}")
        if self.short_pages:
            ids = tuple(str(i.get("business_id") if isinstance(i, dict) else i) for i in items) if isinstance(items, list) else tuple(items)
            if before is not None and before[0] == ids:
                raise _broken(f"Partoo answered page {asked} with the same items as page {asked - 1} ({_where(response)}): "
                              "the page number does not advance, so the sync stopped instead of reading the same page "
                              "forever.", f"page {asked} repeats page {asked - 1}")
            if len(ids) < (page_size_override or self._size or len(ids)) and before is not None and len(ids) < len(before[0]):
                return None
            self._reads[key] = (ids,)
            return asked + 1
        if not isinstance(max_page, int) or isinstance(max_page, bool) or asked >= max_page:
            return None
        first, last, growths = before or (max_page, max_page, 0)
        growths = growths + 1 if max_page > last else 0
        if growths >= 3 or asked + 1 > 2 * first + 10:
            raise _broken(f"Partoo's max_page keeps growing ({first} at page 1, {max_page} at page {asked}; "
                          f"{_where(response)}): the sync stopped instead of following a list that never ends.",
                          f"max_page grew {growths} times in a row, from {first} to {max_page}")
        self._reads[key] = (first, max_page, growths)
        return asked + 1


@dataclass
class PartooRecords(RecordExtractor):
    """The records of an answer whose wrapper is not documented: the list under `field_name`, or the body when
    it is a list (GET /sections, GET /messaging/templates), or, without field_name, the body when it is one
    object (GET /sections/{id}/groups/{id}). Why Python: DpathExtractor takes one path, no alternatives."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    field_name: str = ""

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        yield from self.records_of(_body(response))

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        if isinstance(body, list):
            yield from (item for item in body if isinstance(item, dict))
        elif isinstance(body, dict) and not self.field_name:
            yield body
        elif isinstance(body, dict) and isinstance(body.get(self.field_name), list):
            yield from body[self.field_name]


@dataclass
class ReviewReplies(PartooRecords):
    """The replies inside a page of reviews, one record each (no endpoint lists replies). A review's `comments`
    may be an object, a list or null, and a reply may hold `replies`: every level is a record (without its
    `replies`), with review_id and parent_id from where it was found when Partoo omits them, the review's
    business_id, and review_update_date_utc (the cursor: the review's update_date, else its date, in UTC).
    Why Python: no manifest extractor flattens a tree of unknown depth whose root may be an object or a list."""

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        for review in super().records_of(body):
            if not isinstance(review, dict):
                continue
            updated = utc_timestamp(review.get("update_date")) or utc_timestamp(review.get("date"))
            seen: set = set()
            pending: List[Tuple[Any, Any]] = [(review.get("comments"), None)]
            while pending:
                node, parent_id = pending.pop(0)
                for reply in node if isinstance(node, list) else [node]:
                    if not isinstance(reply, dict) or (reply.get("id") is not None and reply.get("id") in seen):
                        continue
                    seen.add(reply.get("id"))
                    record = {k: v for k, v in reply.items() if k != "replies"}
                    record["review_id"] = record.get("review_id") if record.get("review_id") is not None else review.get("id")
                    if record.get("parent_id") is None and parent_id is not None:
                        record["parent_id"] = parent_id
                    record.update(business_id=review.get("business_id"), review_update_date_utc=updated)
                    yield record
                    if reply.get("replies"):
                        pending.append((reply["replies"], reply.get("id")))


def _day(value: Any) -> Optional[str]:
    """'2024-01-31', '2024-01-31T00:00:00' or '2024-01-31 00:00:00+00:00' as '2024-01-31'; else None."""
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").strftime("%Y-%m-%d") if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass
class AnalyticsRows(PartooRecords):
    """One flat record per analytics bucket: business_id, date (YYYY-MM-DD), business_name when Partoo names it,
    each metric as a column (object metrics kept whole). Partoo documents none of these shapes, so every
    reading is accepted: rows under `data` or `metrics`; metrics flat or in a `metrics` object; the business
    under business_id, business, dimension_business, `dimensions.business`, or `dimension` when `dimension` is
    business; the date under date, day, dimension_day, dimension_date or `dimensions`. With `require_date`, a
    row without a date fails the sync rather than load under a wrong day; `as_strings` fields are loaded as
    strings (a keyword may come as a number). Why Python: no manifest extractor flattens unknown nested keys."""

    dimension: str = ""
    require_date: bool = False
    as_strings: Optional[List[str]] = None

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        if isinstance(body, dict) and not isinstance(body.get(self.field_name), list):
            other = body.get("metrics" if self.field_name == "data" else "data")
            body = {self.field_name: other} if isinstance(other, list) else body
        for row in super().records_of(body):
            if isinstance(row, dict):
                yield self.flatten(row)

    def flatten(self, row: Mapping[str, Any]) -> Dict[str, Any]:
        dims = row.get("dimensions") if isinstance(row.get("dimensions"), dict) else {}
        wrappers = {"dimension", "dimension_name", "dimension_info", "dimensions", "metrics", "bucket"}
        dropped = wrappers | {"business", "dimension_business", "day", "dimension_day", "dimension_date"}
        record = {k: v for k, v in row.items() if k not in dropped}
        record.update(row["metrics"] if isinstance(row.get("metrics"), dict) else {})
        businesses = [row.get(k) for k in ("business_id", "business", "dimension_business")] + [dims.get("business")]
        businesses.append(row.get("dimension") if self.dimension == "business" else None)
        business = next((b for b in businesses if b is not None), None)
        record["business_id"] = None if business is None else str(business)
        if self.dimension == "business" and row.get("dimension_name") is not None:
            record["business_name"] = row["dimension_name"]
        days = [row.get(k) for k in ("date", "day", "dimension_day", "dimension_date")] + [dims.get("day"), dims.get("date")]
        record["date"] = next((d for d in map(_day, days) if d), None)
        for key in self.as_strings or []:
            if record.get(key) is not None and not isinstance(record[key], str):
                record[key] = str(record[key])
        if record["date"] is None and self.require_date:
            raise AirbyteTracedException(
                message="Partoo answered an analytics row without a date, so the connector cannot tell which day it "
                        "counts; the sync stopped instead of loading it under a wrong day. Report it to the "
                        "connector's maintainers with the stream name.",
                internal_message=f"analytics row without a date: keys {sorted(row)}", failure_type=FailureType.system_error)
        return record


@dataclass
class PublisherStates(PartooRecords):
    """GET /publisher_states: {"businesses": {"<id>": {business_id, business_name, business_formatted_address,
    publishers: {"<publisher>": {state, error_type, url_on_publisher}}}}}. One record per business and
    publisher, with the business's fields. Why Python: no manifest extractor turns an object's keys into rows."""

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        businesses = body.get(self.field_name) if isinstance(body, dict) else None
        if isinstance(businesses, list):  # should Partoo ever answer a list of the same objects
            businesses = {str(b.get("business_id")): b for b in businesses if isinstance(b, dict)}
        for key, business in (businesses.items() if isinstance(businesses, dict) else []):
            publishers = business.get("publishers") if isinstance(business, dict) else None
            for publisher, listing in (publishers.items() if isinstance(publishers, dict) else []):
                yield {"business_id": str(business.get("business_id") or key), "publisher": publisher,
                       "business_name": business.get("business_name"),
                       "business_formatted_address": business.get("business_formatted_address"),
                       **(listing if isinstance(listing, dict) else {})}


def utc_timestamp(value: Any) -> Optional[str]:
    """Any date Partoo sends (epoch seconds as a number or a string, ISO 8601 with a space or a T, with or without
    an offset: naive is UTC, where Partoo stores dates) as ISO 8601 in UTC; else None."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return None
    try:
        try:
            moment = datetime.fromtimestamp(float(value), tz=_UTC)
        except ValueError:
            moment = _date(value)
            if moment is _NO_DATE:
                return None
    except (TypeError, OverflowError, OSError):
        return None
    return moment.astimezone(_UTC).isoformat(timespec="microseconds")


@dataclass
class AddUtcTimestamps(RecordTransformation):
    """For each `fields` entry {new_field: [source, fallback...]}: the first non-null source in UTC
    (utc_timestamp), Partoo's own fields unchanged. Why Python: an AddFields template cannot tell epoch
    floats, epoch integers and ISO strings apart, nor an epoch 0 from a null."""

    fields: Mapping[str, List[str]]
    parameters: InitVar[Mapping[str, Any]]

    def transform(self, record: Dict[str, Any], config: Optional[Config] = None, stream_state: Any = None,
                  stream_slice: Optional[StreamSlice] = None) -> None:
        for target, sources in self.fields.items():
            record[target] = next((v for v in map(utc_timestamp, (record.get(s) for s in sources)) if v), None)


# --- Requests -------------------------------------------------------------------------------------


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    """(scheme, host, port) of a URL, the port made explicit; an unparseable port never matches."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        port = -1
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _show(origin: Tuple[str, str, Optional[int]]) -> str:
    scheme, host, port = origin
    default = port in (None, {"https": 443, "http": 80}.get(scheme))
    return f"{scheme}://" + (f"[{host}]" if ":" in host else host) + ("" if default else f":{port}")


@dataclass
class ApiKeyForPartooOnly(DeclarativeAuthenticator):
    """The API key (`api_token`, rendered as ApiKeyAuthenticator renders it) in the `header` header, sent only to
    the origin (scheme, host, port) of `api_url`. A response hook refuses, with a config_error, a redirect to
    another origin before requests follows it. Why Python: requests follows redirects and strips only an
    Authorization header when one leaves the host; ApiKeyAuthenticator has no option against it."""

    api_token: str
    header: str
    api_url: str
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._token = InterpolatedString.create(self.api_token, parameters=parameters)
        self._api = _origin(str(InterpolatedString.create(self.api_url, parameters=parameters).eval(self.config)))

    @property
    def auth_header(self) -> str:
        return self.header

    @property
    def token(self) -> str:
        return str(self._token.eval(self.config))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if _origin(request.url or "") != self._api:  # every stream's URL is the API's: a connector bug
            raise AirbyteTracedException(
                message=f"The connector was about to send the API key to {_show(_origin(request.url or ''))} instead "
                        f"of the API at {_show(self._api)}; it stopped. Report this to the connector's maintainers.",
                failure_type=FailureType.system_error)
        request.headers.update(self.get_auth_header())
        if self._refuse_other_origins not in request.hooks["response"]:  # not again on a retry
            request.register_hook("response", self._refuse_other_origins)
        return request

    def _refuse_other_origins(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if not response.is_redirect:
            return response
        location = response.headers["location"]
        try:  # as requests' Session.get_redirect_target reads it
            location = location.encode("latin1").decode("utf8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        source, target = _origin(response.url), _origin(urljoin(response.url, location))
        if target == self._api:
            return response
        response.close()
        why = ("plain http instead of https" if source[0] == "https" and target[0] == "http" else "another host"
               if source[1] != target[1] else "another port" if source[2] != target[2] else "another scheme")
        raise AirbyteTracedException(
            message=f"The API at {_show(source)} redirected to {_show(target)} ({why}), where the connector never sends "
                    "the API key, so it stopped: check base_url (or environment, when base_url is empty) and any proxy "
                    "between the connector and Partoo.",
            internal_message=f"HTTP {response.status_code} redirect to another origin refused",
            failure_type=FailureType.config_error)


@dataclass
class StopAfterConfigError(Requester):
    """The manifest's HttpRequester `requester` (with its retries, budget and errors), which sends nothing more
    once one of its requests failed with a config_error (a rejected key, a refused redirect, an unreachable
    server): every later partition ends at once, without a request or a message. Why Python: an error handler
    sees a response only once the request is sent; an analytics stream has one partition per window (731 for
    two years of review metrics), so a rejected key cost one request and one error per window."""

    requester: Requester
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._stopped = False  # shared by the stream's partitions and threads; only ever set to True

    def send_request(self, **kwargs: Any) -> Optional[requests.Response]:  # type: ignore[override]
        if self._stopped:
            return None  # SimpleRetriever ends a partition that gets no response
        try:
            return self.requester.send_request(**kwargs)
        except AirbyteTracedException as error:
            self._stopped = self._stopped or error.failure_type == FailureType.config_error
            raise

    @property
    def exit_on_rate_limit(self) -> bool:
        return bool(getattr(self.requester, "exit_on_rate_limit", False))

    @exit_on_rate_limit.setter
    def exit_on_rate_limit(self, value: bool) -> None:
        self.requester.exit_on_rate_limit = value  # type: ignore[attr-defined]

    def get_authenticator(self) -> DeclarativeAuthenticator:
        return self.requester.get_authenticator()

    def get_url(self, **kwargs: Any) -> str:  # type: ignore[override]
        return self.requester.get_url(**kwargs)

    def get_url_base(self, **kwargs: Any) -> str:  # type: ignore[override]
        return self.requester.get_url_base(**kwargs)

    def get_path(self, **kwargs: Any) -> str:  # type: ignore[override]
        return self.requester.get_path(**kwargs)

    def get_method(self) -> HttpMethod:
        return self.requester.get_method()

    def get_request_params(self, **kwargs: Any) -> MutableMapping[str, Any]:  # type: ignore[override]
        return self.requester.get_request_params(**kwargs)

    def get_request_headers(self, **kwargs: Any) -> Mapping[str, Any]:  # type: ignore[override]
        return self.requester.get_request_headers(**kwargs)

    def get_request_body_data(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.requester.get_request_body_data(**kwargs)

    def get_request_body_json(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.requester.get_request_body_json(**kwargs)


def _server(error: Any, config: Config) -> str:
    """scheme://host[:port] of the API (else of the failed request), without credentials."""
    parts = urlsplit(str(config.get("_partoo_api_url") or getattr(getattr(error, "request", None), "url", None) or ""))
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _unreachable(error: Any) -> Optional[str]:
    """Why no connection could be made (refused, DNS, TLS, proxy), or None when the failure may be transient."""
    if not isinstance(error, requests.exceptions.ConnectionError) or isinstance(error, requests.exceptions.Timeout):
        return None
    chain, pending = [], [error]  # requests wraps urllib3's MaxRetryError, which wraps the cause
    while pending:
        current = pending.pop()
        if isinstance(current, BaseException) and all(current is not c for c in chain):
            chain.append(current)
            pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    kinds = [(ssl.SSLCertVerificationError, "", None), (requests.exceptions.ProxyError, "ProxyError", "the proxy could not be used"),
             ((ssl.SSLError, requests.exceptions.SSLError), "SSLError", "the TLS handshake failed"),
             (socket.gaierror, "NameResolutionError", "its host name could not be resolved"),
             (ConnectionRefusedError, "", "connection refused")]
    for kind, name, why in kinds:
        found = next((c for c in chain if isinstance(c, kind) or (name and type(c).__name__ == name)), None)
        if found is not None:
            return why or f"its TLS certificate could not be verified: {getattr(found, 'verify_message', None) or found}"
    return None


@dataclass
class UnreachableServer(BackoffStrategy):
    """The first of the backoff strategies: lets the others choose the wait (returns None) until the last of
    `max_retries` attempts, then ends a connection that cannot be made (refused, DNS, TLS, proxy) as a
    config_error naming the server; resets and timeouts stay transient. In a check (`_partoo_check`, set by
    the check's config_overrides) the first failure a sync would retry ends the check at once with a sentence.
    Why Python: a response filter never matches an exception, and retries cannot depend on the operation."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    max_retries: Any = 6

    def backoff_time(self, response_or_exception: Any, attempt_count: int) -> Optional[float]:
        error, server = response_or_exception, _server(response_or_exception, self.config)
        why = _unreachable(error)
        if why is not None and (self.config.get("_partoo_check") or attempt_count > int(self.max_retries)):
            tries = "once" if attempt_count == 1 or self.config.get("_partoo_check") else f"{attempt_count} times"
            raise AirbyteTracedException(
                message=f"Could not connect to the Partoo server {server} ({why}; tried {tries}): check base_url and "
                        "environment in the config, and that this machine's network, firewall and proxy settings "
                        "(HTTPS_PROXY) let it reach that server.",
                internal_message=f"{type(error).__name__}: {error}", failure_type=FailureType.config_error, exception=error)
        if not self.config.get("_partoo_check"):
            return None
        later = "test again in a few minutes, and contact Partoo support if it persists."
        if not isinstance(error, requests.Response):
            what = "is too slow to answer" if isinstance(error, requests.exceptions.Timeout) else "dropped the connection"
            message, internal = f"Partoo's server {server} {what} ({type(error).__name__}): {later}", f"check: {error!r}"
        elif error.status_code == 429:
            wait = (error.headers.get("Retry-After") or "").strip()
            message = (f"Partoo's rate limit for this organization is reached (HTTP 429 from {server}): other tools are "
                       f"using its requests; test again {f'in {wait} seconds' if wait.isdigit() else 'in a minute'}, "
                       "and lower requests_per_minute if it keeps happening.")
        elif error.status_code >= 500:
            message = (f"Partoo's server {server} is failing (HTTP {error.status_code}): nothing is wrong with the config "
                       f"as far as the connector can tell; {later}")
        else:
            message = (f"Partoo's server {server} answered HTTP {error.status_code} with a body that is not the API's "
                       "JSON: check base_url and any proxy between the connector and Partoo, or test again in a few minutes.")
        internal = f"check: HTTP {error.status_code}" if isinstance(error, requests.Response) else internal
        raise AirbyteTracedException(message=message, internal_message=internal, failure_type=FailureType.transient_error)


@dataclass
class SkipForbidden(DefaultErrorHandler):
    """The manifest's DefaultErrorHandler, except that HTTP 403 skips the stream with `forbidden_message` logged
    as a WARNING: an organization without a product, or a role that may not read one endpoint, gets a 403
    there only, which must not fail the other streams. Why Python: an IGNORE filter logs at INFO only."""

    forbidden_message: str = ""

    def interpret_response(self, response_or_exception: Optional[Any] = None) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 403:
            message = InterpolatedString.create(self.forbidden_message, parameters={}).eval(self.config)
            _LOGGER.warning(message)
            return ErrorResolution(response_action=ResponseAction.IGNORE, failure_type=None, error_message=message)
        return super().interpret_response(response_or_exception)


# --- Config ---------------------------------------------------------------------------------------
# airbyte-cdk reports a config that breaks the spec's JSON schema in jsonschema's words ("'x' does not match
# '^(https://...'"), and the spec's transformations run before any validation (a bad start_date crashes
# format_datetime). So SetAsideInvalidConfig, the spec's first transformation, sets every invalid value
# aside with the sentence saying what to fix, and ReportConfigProblem, the spec's validation, raises it.

PROBLEM_KEY = "_partoo_config_problem"
_KEY_CHARACTERS = re.compile(r'^[!#-\[\]-~]+$')  # printable ASCII but quotes and backslashes: masked as written
CONFIG_SENTENCES: Dict[str, str] = {
    "api_key": "Set api_key to your Partoo API key: it is missing or empty.",
    "environment": "Set environment to production or sandbox (the server your API key belongs to).",
    "base_url": "Set base_url to a URL such as https://api.partoo.co/v2, or leave it empty to use the environment's server.",
    "business_ids": 'Set business_ids to a list of Partoo business ids (strings), such as ["5409c35a97bbc544d8e26737"], '
                    "or leave it empty to read every business.",
    "start_date": "Set start_date to a date (2024-01-31) or a date-time (2024-01-31T00:00:00Z), or leave it empty to "
                  "load everything.",
    "analytics_start_date": "Set analytics_start_date to a date such as 2024-01-31, or leave it empty to start analytics "
                            "at start_date (else two years back).",
    "requests_per_minute": "Set requests_per_minute to a whole number from 1 to 6000 (Partoo allows 300 a minute per "
                           "organization unless it raised your limit).",
    "full_list_every_hours": "Set full_list_every_hours to a whole number of hours from 0 to 720 (how often a sync reads "
                             "the whole conversation list; 0 reads it whole on every sync).",
    "num_workers": "Set num_workers to a whole number from 2 to 16 (the number of requests in flight at once).",
}


class ConfigProblem(AirbyteTracedException, ValueError):
    """A config or saved state the user must fix: a config_error whose message says how (a ValueError too, what
    a ValidationStrategy raises)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(message=sentence, internal_message=sentence, failure_type=FailureType.config_error)

    def __str__(self) -> str:
        return self.message or ""


def _field_problem(name: str, value: Any, api_key: str) -> Optional[str]:
    """What a JSON schema cannot say about one field, as its sentence. Never quotes what the user typed, but
    base_url's host (not when the API key is in it: check's connection status is not masked)."""
    if name == "api_key":
        if not isinstance(value, str) or not value.strip():
            return CONFIG_SENTENCES[name]
        return None if _KEY_CHARACTERS.match(value) else ("api_key has a space, a line break or a character that a "
               "Partoo API key does not have inside it: copy the key again from Partoo and paste it alone.")
    if name == "base_url":
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or " " in value:
            return CONFIG_SENTENCES[name]
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            start = value.lower().find(parts.hostname)
            host, key = value[start:start + len(parts.hostname)], api_key.lower()
            hidden = key and (key in host.lower() or host.lower() in key)
            return f"base_url must use https://{'' if hidden else ' for ' + host}: plain http:// is only allowed for " \
                   "localhost, 127.0.0.1 or [::1]."
    if name in ("start_date", "analytics_start_date"):
        moment = _date(value) if isinstance(value, str) else _NO_DATE
        try:
            format_datetime(value, "%Y-%m-%dT%H:%M:%S%z")  # what the spec's transformation renders
        except (ValueError, TypeError, OverflowError):
            moment = _NO_DATE
        if moment is _NO_DATE or (name == "analytics_start_date" and len(value) != 10):
            return CONFIG_SENTENCES[name]
        if moment > datetime.now(_UTC) + timedelta(days=1):  # a day of margin: time zones ahead of UTC
            return f"{name} ({moment.date().isoformat()}) is in the future, so a sync would load nothing: set it to " \
                   "today or an earlier date, or leave it empty."
    if name == "business_ids" and not (isinstance(value, list) and all(isinstance(b, str) and b.strip() for b in value)):
        return CONFIG_SENTENCES[name]
    if name in ("requests_per_minute", "full_list_every_hours", "num_workers") and (
            not isinstance(value, int) or isinstance(value, bool)):  # JSON schema counts 5.0 as an integer
        return CONFIG_SENTENCES[name]
    return None


def config_problems(config: Mapping[str, Any], properties: Mapping[str, Any]) -> Dict[str, str]:
    """Each field whose value the spec does not allow, with its sentence: CONFIG_SENTENCES' order, then the spec's."""
    import jsonschema  # airbyte-cdk's dependency; only a config that has a value needs it

    problems: Dict[str, str] = {}
    api_key = config.get("api_key") if isinstance(config.get("api_key"), str) else ""
    for name in list(CONFIG_SENTENCES) + [n for n in properties if n not in CONFIG_SENTENCES]:
        value = config.get(name)
        if (value is None or value == "") and name != "api_key":
            continue  # not set (null is how some clients leave a field unset)
        sentence = _field_problem(name, value, api_key)
        if sentence is None and name in properties and not jsonschema.Draft7Validator(properties[name]).is_valid(value):
            sentence = CONFIG_SENTENCES.get(name) or f"Set {name} to a value the connector's spec allows."
        if sentence is not None:
            problems[name] = sentence
    return problems


@dataclass
class SetAsideInvalidConfig(ConfigTransformation):
    """The spec's first transformation: strips the blanks around a pasted api_key (airbyte-cdk then masks the
    stripped key, inside any form of the pasted one), removes each invalid value (api_key: blanked, as the
    spec requires one) and keeps the first problem's sentence under PROBLEM_KEY. $parameters.properties: the
    spec's properties (one definition of what each field allows)."""

    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._properties: Mapping[str, Any] = (parameters or {}).get("properties") or {}

    def transform(self, config: MutableMapping[str, Any]) -> None:
        if isinstance(config.get("api_key"), str):
            config["api_key"] = config["api_key"].strip()
        problems = config_problems(config, self._properties)
        for name in [n for n in self._properties if n in problems or (n in config and config[n] is None)]:
            if name == "api_key":
                config[name] = config.get(name) if isinstance(config.get(name), str) else ""  # a refused key stays masked
            else:
                config.pop(name, None)
        config[PROBLEM_KEY] = next(iter(problems.values()), None)


class ReportConfigProblem(ValidationStrategy):
    """The spec's validation of PROBLEM_KEY: the sentence SetAsideInvalidConfig kept, as a config_error."""

    def validate(self, value: Any) -> None:
        if value:
            raise ConfigProblem(str(value))


@dataclass
class ConfiguredBusinessesExist(RecordFilter):
    """Fails naming each id of business_ids that the first page of GET /business/search?business__in=<ids> does not
    list: Partoo answers a typo, or a business of another organization, with no record, so every stream would
    load nothing without a word. In a check (`in_check_only`), or always; at most 100 ids (one page).
    Why Python: a record filter's condition sees one record, not the page."""

    in_check_only: bool = True

    def filter_records(self, records: Iterable[Mapping[str, Any]], stream_state: Mapping[str, Any],
                       stream_slice: Optional[StreamSlice] = None, next_page_token: Optional[Mapping[str, Any]] = None
                       ) -> Iterable[Mapping[str, Any]]:
        records, wanted = list(records), list(dict.fromkeys(self.config.get("business_ids") or []))
        first_page = (next_page_token or {}).get("next_page_token") in (None, 1)
        if wanted and len(wanted) <= 100 and first_page and (self.config.get("_partoo_check") or not self.in_check_only):
            listed = {str(record.get("id")) for record in records if isinstance(record, Mapping)}
            missing = [business for business in wanted if business not in listed]
            if missing:
                raise ConfigProblem(f"business_ids names {', '.join(missing)}, which the API key cannot see (a typo, or a "
                                    "business of another organization): correct or remove it, or leave business_ids "
                                    "empty to read every business.")
        return records


# --- Saved state ----------------------------------------------------------------------------------


@dataclass
class CheckSavedState(StateMigration):
    """Checks a stream's saved state before its cursor reads it (airbyte-cdk applies state_migrations when it
    builds the stream, before any request). Users edit states, copy them and upgrade under them: a cursor value
    that is not a date stops the sync with one config_error sentence naming the stream, the field and the value
    (airbyte-cdk would fail with "Something went wrong"); a date in another ISO form is rewritten in the
    cursor's format; a state without the cursor reads from start_date; a position in the future, keys the
    connector does not use and parts it cannot read are warned about. The cursor's facts are read from the
    stream's model (for messages, from its parent's too). Why Python: the only stock migration reshapes a
    per-partition state and checks nothing."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    declarative_stream: Any = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        stream = self.declarative_stream
        self._stream, cursor = stream.name, stream.incremental_sync
        self._cursor, self._formats = cursor.cursor_field, [cursor.datetime_format, *(cursor.cursor_datetime_formats or [])]
        router = getattr(stream.retriever, "partition_router", None)
        inner = getattr(router, "conversations", None)  # ConversationsByLastActivity's SubstreamPartitionRouter
        parent = inner["parent_stream_configs"][0]["stream"] if isinstance(inner, Mapping) else None
        self._parent = (parent["name"], parent["incremental_sync"]["cursor_field"]) if parent else None
        self._partitioned = router is not None

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        return bool(stream_state)

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        warnings: List[str] = []
        checked = self.check(stream_state, datetime.now(_UTC), warnings)
        for warning in warnings:
            _LOGGER.warning(warning)
        return checked

    def check(self, state: Mapping[str, Any], now: datetime, warnings: List[str]) -> Dict[str, Any]:
        """The state to use ({}: from start_date), warnings appended to `warnings`; ConfigProblem if unusable."""
        name, cursor, keys = self._stream, self._cursor, {"use_global_cursor", "state", "states", "lookback_window", "parent_state"}
        said = f"The saved state of stream {name}"
        held = ", ".join(sorted(map(str, state))) or "nothing"
        partitioned = self._partitioned and bool(keys & set(state))
        unknown = sorted(set(state) - (keys if partitioned else {cursor}))
        if unknown and (partitioned or cursor in state):
            warnings.append(f"{said} has keys this connector does not use ({', '.join(unknown)}): they are ignored.")
        if not partitioned:
            if cursor not in state:
                warnings.append(f"{said} has no {cursor} (it holds {held}): {name} is read from start_date this time, "
                                "as if it had no state.")
                return {}
            return {cursor: self._checked(cursor, state[cursor], now, warnings)}
        fixed = {k: v for k, v in state.items() if k in keys}
        if "state" in fixed:
            if isinstance(fixed["state"], Mapping) and cursor in fixed["state"]:
                fixed["state"] = {cursor: self._checked(cursor, fixed["state"][cursor], now, warnings)}
            else:
                warnings.append(f"{said} has no {cursor}: {name} is read from start_date this time.")
                fixed.pop("state")
                fixed.pop("parent_state", None)  # without the messages' cursor, the list's position is not enough
        window = fixed.get("lookback_window", 0)
        if not isinstance(window, int) or isinstance(window, bool) or window < 0:
            warnings.append(f"{said} has a lookback_window that is not a number of seconds ({window!r}): 0 is used.")
            fixed["lookback_window"] = 0
        if "parent_state" in fixed and self._parent is None:
            fixed.pop("parent_state")
        elif "parent_state" in fixed:
            parent, parent_cursor = self._parent
            position = fixed["parent_state"].get(parent) if isinstance(fixed["parent_state"], Mapping) else None
            if isinstance(position, Mapping) and parent_cursor in position:
                where = f"parent_state.{parent}.{parent_cursor}"
                fixed["parent_state"] = {parent: {parent_cursor: self._checked(where, position[parent_cursor], now, warnings)}}
            else:
                warnings.append(f"{said} has no position in {parent} ({parent_cursor}): every conversation is listed "
                                f"again this time, and messages are read from the saved {cursor}.")
                fixed.pop("parent_state")
        if "states" in fixed and not isinstance(fixed["states"], list):
            raise ConfigProblem(self._sentence("has per-conversation states that are not a list"
                                               f" ({json.dumps(fixed['states'])[:80]})", cursor))
        if not (fixed.get("state") or fixed.get("states") or fixed.get("parent_state")):
            if "state" not in state:
                warnings.append(f"{said} has no {cursor} (it holds {held}): {name} is read from start_date this time.")
            return {}
        return fixed

    def _checked(self, where: str, value: Any, now: datetime, warnings: List[str]) -> str:
        """The saved value read with the cursor's formats (else as any ISO 8601 date, UTC when naive), written
        back as the cursor writes it."""
        parser, parsed = DatetimeParser(), None
        for fmt in self._formats if isinstance(value, (str, int, float)) and not isinstance(value, bool) else []:
            try:
                parsed = parser.parse(str(value), fmt)
                break
            except (ValueError, TypeError, OverflowError):
                continue
        if parsed is None and isinstance(value, str) and _date(value) is not _NO_DATE:
            parsed = _date(value)
        if parsed is None:
            raise ConfigProblem(self._sentence(f"has {where} = {json.dumps(value)}, which is not a date", where,
                                               parser.format(now, self._formats[0])))
        written = parser.format(parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC), self._formats[0])
        said = f"The saved state of stream {self._stream}"
        if written != str(value):
            warnings.append(f"{said} has {where} = {json.dumps(value)}: read as {written}.")
        if (parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)) > now:
            warnings.append(f"{said} is in the future ({where} = {written}): nothing newer exists yet, so this sync loads "
                            f"nothing new for {self._stream}, and neither will any sync before that date. Reset "
                            f"{self._stream} in Airbyte (or set the value to a past date) if that is not what you want.")
        return written

    def _sentence(self, what: str, where: str, example: str = "2024-01-31 00:00:00.000000+0000") -> str:
        return (f"The saved state of stream {self._stream} {what}: reset the {self._stream} stream in Airbyte (its next "
                f"sync then reads everything since start_date), or set {where} to a date written like {example}.")
