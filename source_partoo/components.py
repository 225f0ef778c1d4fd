"""What manifest.yaml cannot say; each class says what it does and why YAML cannot (docs/partoo.md lists them).

Reading:     ConversationListPagination, ConversationsByLastActivity, OncePerActivity, OncePerId, PartooPages,
             PartooRecords (ReviewReplies, AnalyticsRows, PublisherStates), AddUtcTimestamps
Requests:    ApiKeyForPartooOnly, StopAfterConfigError, UnreachableServer, SkipForbidden (CountInCheck)
Config:      SetAsideInvalidConfig, ReportConfigProblem, ConfiguredBusinessesExist
Saved state: CheckSavedState
"""

import json
import logging
import socket
import ssl
from array import array
from dataclasses import InitVar, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Tuple
from urllib.parse import urljoin, urlsplit

import jsonschema
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
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import (
    ConfigTransformation,
)
from airbyte_cdk.sources.declarative.validators import ValidationStrategy
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.types import Config, StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

_LOGGER = logging.getLogger("airbyte")
_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_NO_DATE = datetime.min.replace(tzinfo=_UTC)
_MICROSECOND = timedelta(microseconds=1)


def _date(value: Any) -> datetime:
    """Partoo's "2023-01-31 16:22:17.327878+00:00" (or any ISO 8601 form; naive is UTC), else _NO_DATE."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return _NO_DATE
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)


def _last_activity(record: Any) -> Optional[str]:
    """A conversation's last message's date, else its creation date: the manifest's last_activity_at."""
    if not isinstance(record, Mapping):
        return None
    last = record.get("last_message")
    return (last.get("date") if isinstance(last, Mapping) else None) or record.get("created_at")


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_list(body: Any) -> Optional[List[Any]]:
    return next((v for v in body.values() if isinstance(v, list)), None) if isinstance(body, dict) else None


def _where(response: requests.Response, stream_slice: Optional[StreamSlice] = None) -> str:
    partition = dict(stream_slice.partition) if stream_slice else {}
    request = response.request
    return f"{request.method} {(request.path_url or '').split('?')[0]}" + (f", {partition}" if partition else "")


def _looping(what: str, response: requests.Response, stream_slice: Optional[StreamSlice] = None) -> Exception:
    return AirbyteTracedException(
        message=f"{what} ({_where(response, stream_slice)}): the sync stopped instead of reading the same "
                "pages forever. Retry later, and report it to Partoo support if it persists.",
        internal_message=what, failure_type=FailureType.system_error)


def _read_of(reads: Dict[str, Any], stream_slice: Optional[StreamSlice], first_page: bool, new: Any) -> Tuple[str, Any]:
    """The history of this slice's read, kept on a strategy that every partition and window shares; new on a first page."""
    key = json.dumps([stream_slice.partition, stream_slice.cursor_slice], sort_keys=True, default=str) if stream_slice else ""
    if first_page or key not in reads:
        reads[key] = new()
    return key, reads[key]


# --- Reading --------------------------------------------------------------------------------------

ORDER_KEY = "conversation_list"  # where the messages state keeps the proof, next to its position in the list


class _Sync:
    """What a sync's streams share. The list's order: the proof the messages state saved (ListOrderProof), and what
    this sync's reads of the list saw since (ConversationListPagination), for the proof the messages state saves next
    (ConversationsByLastActivity); an early stop is safe only on a list a whole read proved newest first: a list
    whose top pages are ordered may hide a changed conversation further down, which a later whole read would then
    filter out below the saved position. In a check, what each stream's one page counted (CountInCheck), for the
    cost estimate the check's last stream logs."""

    def __init__(self) -> None:
        self.saved: Optional[str] = None
        self.out_of_order = self.proven = False
        self.counted: Dict[str, Optional[int]] = {}
        self.estimated = False


# The one state shared between streams, keyed by the sync (the start the spec stamps on its config): the messages
# state is the only place a proof survives between syncs, the conversations stream reads the list too, and a check's
# streams each see one page. airbyte-cdk 7.39.1 hands components nothing else they could share (docs/reliability.md).
_SYNCS: Dict[Tuple[Any, ...], _Sync] = {}


def _sync(config: Config) -> _Sync:
    business_ids = config.get("business_ids")
    key = (config.get("_partoo_sync_started_at"), config.get("_partoo_api_url"), hash(str(config.get("api_key"))),
           tuple(business_ids) if isinstance(business_ids, list) else business_ids)
    while key not in _SYNCS and len(_SYNCS) >= 32:  # a process that runs many syncs (the Builder's server)
        _SYNCS.pop(next(iter(_SYNCS)), None)
    return _SYNCS.setdefault(key, _Sync())  # atomic: the readers' threads get the same one


@dataclass
class ListOrderProof(StateMigration):
    """Reads the proof of the list's order that the messages state saved (parent_state.conversation_list) for this
    sync's two readers of the list; migrates nothing. Why Python: a saved state reaches no component but its
    stream's cursor and state migrations, and both streams' paginators need the proof."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        order = (stream_state.get("parent_state") or {}).get(ORDER_KEY) if isinstance(stream_state, Mapping) else None
        proof = order.get("newest_first_at") if isinstance(order, Mapping) else None
        _sync(self.config).saved = proof if _date(proof) is not _NO_DATE else None
        return False

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        return stream_state


class _ListRead:
    """One read of a list: the cursors of this pass and what the passes saw. Partoo pages by position: a list that
    moves while it is paged shifts down (a conversation moved above the read position is missed; the one at the
    page boundary is listed twice) or up (`count` drops, or an id comes back with another activity: the one at
    the boundary is missed). After a shift up, or down in a list not newest first: a whole pass (3 at most);
    after a shift down only: a pass over the top, to the first page seen whole (10 passes at most)."""

    def __init__(self, stop_before: Optional[datetime] = None) -> None:
        self.passes = self.full_passes = 0
        self.known: Dict[Any, int] = {}  # id -> hash of its activity, over the previous passes
        self.stop_before = stop_before  # the early stop, while every page is newest first
        self.out_of_order = self.whole_newest_first = False  # a page out of order; a whole pass newest first
        self.start_pass(top_only=False)

    def start_pass(self, top_only: bool) -> None:
        self.passes += 1
        self.full_passes += not top_only
        self.top_only, self.cursors, self.listed, self.count = top_only, set(), {}, None
        self.up = self.down = self.stopped_early = False
        self.newest_first, self.last = True, None

    def observe(self, records: List[Any], count: Any) -> bool:
        """Note a page; True when it ends the pass: a pass over the top reached a page seen whole before, or the
        page reaches below stop_before."""
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
            when = _date(activity) if activity is not None else self.last
            if self.last is not None and when > self.last:
                self.newest_first, self.out_of_order, self.stop_before = False, True, None
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
        whole = not (self.top_only or self.stopped_early)
        missing = whole and self.count is not None and len(self.listed) < self.count
        self.whole_newest_first |= whole and self.newest_first
        self.known.update(self.listed)
        if self.up or ((self.down or missing) and not self.newest_first):
            return False if self.full_passes < 3 else None
        return True if (self.down or missing) and self.passes < 10 else None


@dataclass
class ConversationListPagination(CursorPaginationStrategy):
    """The manifest's cursor_value and stop_condition, stopping the stream on a cursor this pass already returned
    or an empty page that still carries one. With `detect_movement` (the conversation list): reads the list
    again when it moved (_ListRead; a new pass is the token {"pass": n}, sent without a cursor) and, on a list a
    whole read proved newest first less than `full_list_every_hours` ago (_Sync), stops at the first page
    older than the cursor's slice start minus `order_margin` while every page is newest first. Why Python: a
    stop_condition sees one page, never the pages before it.
    """

    detect_movement: bool = False
    order_margin: str = "PT1H"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._margin = parse_duration(self.order_margin)
        self._reads: Dict[str, _ListRead] = {}

    def _stop_before(self, stream_slice: Optional[StreamSlice]) -> Optional[datetime]:
        order = _sync(self.config)
        position = _date((stream_slice.cursor_slice if stream_slice else {}).get("start_time"))
        proven_for = _date(self.config.get("_partoo_sync_started_at")) - _date(order.saved)
        if not (self.detect_movement and position > _EPOCH) or order.out_of_order or order.saved is None or \
                proven_for >= timedelta(hours=_whole_list_every(self.config)):
            return None
        floor = _date(self.config.get("_partoo_start_datetime"))
        return floor - timedelta(hours=1) if position <= floor else position - self._margin

    def next_page_token(self, response: requests.Response, last_page_size: int, last_record: Any,
                        last_page_token_value: Any = None, page_size_override: Optional[int] = None,
                        stream_slice: Optional[StreamSlice] = None) -> Any:
        token = super().next_page_token(response, last_page_size, last_record, last_page_token_value,
                                        page_size_override=page_size_override, stream_slice=stream_slice)
        key, read = _read_of(self._reads, stream_slice, last_page_token_value is None,
                             lambda: _ListRead(self._stop_before(stream_slice)))
        if isinstance(last_page_token_value, dict):
            read.start_pass(top_only=last_page_token_value["top_only"])
        records: List[Any] = [None] * last_page_size  # those Partoo sent, parsed again only where needed
        ends_pass = False
        if self.detect_movement or (token is not None and not last_page_size):
            body = _body(response)
            records = _first_list(body) or []
            ends_pass = self.detect_movement and read.observe(records, body.get("count") if isinstance(body, dict) else None)
        if token is None or ends_pass:
            top_only = read.next_pass() if self.detect_movement else None
            if top_only is not None:
                _LOGGER.info("The list changed while it was read (%s, pass %d): reading %s again so that no conversation "
                             "is missed.", _where(response, stream_slice), read.passes, "its top" if top_only else "it")
                return {"pass": read.passes + 1, "top_only": top_only}
            del self._reads[key]
            if self.detect_movement:
                order = _sync(self.config)
                order.out_of_order |= read.out_of_order
                order.proven |= read.whole_newest_first
            if read.up or read.down:
                _LOGGER.warning("The list kept changing during %d successive reads (%s): a conversation that moved at the "
                                "wrong moment in every read may be read only by the next sync.",
                                read.passes, _where(response, stream_slice))
            return None
        if str(token) in read.cursors or not records:
            del self._reads[key]
            raise _looping("Partoo returned a pagination cursor it had already returned" if records else
                           "Partoo returned an empty page that still carries a next cursor", response, stream_slice)
        read.cursors.add(str(token))
        return str(token)


@dataclass
class ConversationsByLastActivity(PartitionRouter):
    """The messages partitions, one per conversation of `conversations` (the manifest's SubstreamPartitionRouter),
    oldest last activity first, with a parent state that advances as they are handed out (airbyte-cdk saves it
    once every partition before is done), so an interrupted sync resumes. The position is never later than the
    sync's start: a conversation that changed during the read is listed again next sync. The requester sends
    conversation_id. Why Python: no manifest component orders partitions or derives a state from them."""

    conversations: SubstreamPartitionRouter
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    state_datetime_format: str = "%Y-%m-%d %H:%M:%S.%f%z"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        parent = self.conversations.parent_stream_configs[0]
        self._parent, self._cursor = parent.stream.name, parent.stream.cursor.cursor_field.cursor_field_key
        self._field = str(parent.partition_field.eval(self.config))  # type: ignore[union-attr]
        started = _date(self.config.get("_partoo_sync_started_at"))
        self._started = None if started is _NO_DATE else started
        self._initial: Optional[Mapping[str, Any]] = None
        self._handed_out = 0  # microseconds since year 1 of the latest activity handed out
        self._finished = False

    def stream_slices(self) -> Iterable[StreamSlice]:
        self._initial = self.conversations.get_stream_state()
        activity: Dict[Any, datetime] = {}  # a conversation listed twice counts once, with its latest activity
        for listed in self.conversations.stream_slices():
            key, when = listed.partition[self._field], _date(listed.extra_fields.get(self._cursor))
            activity[key] = max(when, activity.get(key, when))
        keys = sorted(activity, key=activity.__getitem__)  # stable: ties keep the list's order
        micros = array("q", ((activity[k] - _NO_DATE) // _MICROSECOND for k in keys))  # 8 bytes a conversation
        del activity
        for key, when in zip(keys, micros):
            self._handed_out = max(self._handed_out, when)
            yield StreamSlice(partition={self._field: key, "parent_slice": {}}, cursor_slice={})
        self._finished = True

    def get_stream_state(self) -> Optional[Mapping[str, Any]]:
        """The position in the list, and what the reads proved of its order (ListOrderProof reads it next sync)."""
        if self._finished or self._initial is None:
            state = self.conversations.get_stream_state()
            saved = _date(((state or {}).get(self._parent) or {}).get(self._cursor))
            state = state if saved is _NO_DATE else self._position(saved)
        else:
            state = self._position(_NO_DATE + self._handed_out * _MICROSECOND) if self._handed_out else self._initial
        order = _sync(self.config)  # a read out of order forgets the proof; an early stop keeps the saved one
        proof = None if order.out_of_order else self._started.strftime(self.state_datetime_format) if order.proven and \
            self._started else order.saved
        return {**state, ORDER_KEY: {"newest_first_at": proof}} if state and proof else state

    def _position(self, when: datetime) -> Mapping[str, Any]:
        when = min(when, self._started) if self._started else when
        return {self._parent: {self._cursor: when.astimezone(_UTC).strftime(self.state_datetime_format)}}

    def get_request_params(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}

    get_request_headers = get_request_body_data = get_request_body_json = get_request_params


@dataclass
class OncePerActivity(DpathExtractor):
    """DpathExtractor that extracts a conversation once per last activity: a list read again because it moved lists
    some twice, and a full refresh would load them twice. Why Python: airbyte-cdk replaces a record filter on a
    client-side incremental stream, and no transformation drops a record."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._first: Dict[Any, int] = {}  # id -> hash of its first activity: one integer a conversation
        self._again: set = set()  # (id, hash) of its other activities: rare

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for record in super().extract_records(response):
            key = record.get("id") if isinstance(record, dict) else None
            key, activity = (key if isinstance(key, (str, int, float, type(None))) else repr(key)), hash(_last_activity(record))
            if key not in self._first:
                self._first[key] = activity
            elif self._first[key] == activity or (key, activity) in self._again:
                continue
            else:
                self._again.add((key, activity))
            yield record


class OncePerId(DpathExtractor):
    """DpathExtractor that extracts a record once per id over all its stream's partitions: users, read once per
    business of business_ids, lists a user of several of them in each, and a full refresh would load them twice.
    Why Python: no stock component sees past one partition."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._seen: Dict[str, object] = {}

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for record in super().extract_records(response):
            key, first = record.get("id") if isinstance(record, dict) else None, object()
            if key is None or self._seen.setdefault(repr(key), first) is first:
                yield record  # setdefault is atomic: partitions read in parallel never both keep one id


@dataclass
class PartooPages(PaginationStrategy):
    """Partoo's page numbers, until page >= max_page or an empty list (`list_key` in $parameters), never on a short
    page (Partoo may ignore per_page); without max_page, one answer, or with `short_pages` (publisher_states,
    whose count is the page's) until a page is empty or shorter than the page size and the page before. Stops
    the stream on a page number that does not advance and on a max_page that keeps growing. Why Python:
    PageIncrement stops on a short page and never sees max_page; a template sees one page, never the one before."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    page_size: Optional[Any] = None
    short_pages: bool = False

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._list_key = str(parameters.get("list_key") or "")
        size = InterpolatedString.create(str(self.page_size or ""), parameters=parameters).eval(self.config)
        self._size = int(size) if size not in (None, "") else None
        self._reads: Dict[str, Dict[str, Any]] = {}

    @property
    def initial_token(self) -> Any:
        return 1

    def get_page_size(self) -> Optional[int]:
        return self._size

    def next_page_token(self, response: requests.Response, last_page_size: int, last_record: Any,
                        last_page_token_value: Any = None, page_size_override: Optional[int] = None,
                        stream_slice: Optional[StreamSlice] = None) -> Any:
        asked, body = int(last_page_token_value or 1), _body(response)
        key, read = _read_of(self._reads, stream_slice, asked == 1, dict)
        items = body.get(self._list_key, _first_list(body)) if isinstance(body, dict) else None
        answered, max_page = (body.get("page"), body.get("max_page")) if items else (None, None)
        if isinstance(answered, int) and not isinstance(answered, bool) and answered != asked:
            raise _looping(f"Partoo answered page {answered} when asked for page {asked}: the page number does not advance", response)
        if items and self.short_pages:
            ids = list(items) if isinstance(items, dict) else [str(i.get("business_id") if isinstance(i, dict) else i) for i in items]
            if read.get("ids") == ids:
                raise _looping(f"Partoo answered page {asked} with the same items as page {asked - 1}: the page number does not advance", response)
            if len(ids) < len(read.get("ids", ids)) and len(ids) < (page_size_override or self._size or len(ids)):
                items = None
            read["ids"] = ids
        elif items:
            first, growths = read.setdefault("first", max_page), read.get("growths", 0)
            read["growths"] = growths + 1 if isinstance(max_page, int) and max_page > read.get("last", max_page) else 0
            read["last"] = max_page
            if not isinstance(max_page, int) or isinstance(max_page, bool) or asked >= max_page:
                items = None
            elif read["growths"] >= 3 or asked + 1 > 2 * first + 10:
                raise _looping(f"Partoo's max_page keeps growing ({first} at page 1, {max_page} at page {asked})", response)
        if not items or not isinstance(items, (list, dict)):
            self._reads.pop(key, None)
            return None
        return asked + 1


@dataclass
class PartooRecords(RecordExtractor):
    """The list under `field_name` ($parameters.list_key by default), or the body when it is a list (GET /sections,
    /messaging/templates: the wrapper is not documented), or the object itself without either. Why Python:
    DpathExtractor takes one path."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    field_name: str = ""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self.field_name = self.field_name or str((parameters or {}).get("list_key") or "")

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        yield from self.records_of(_body(response))

    def records_of(self, body: Any) -> Iterable[Any]:
        if isinstance(body, list):
            yield from (item for item in body if isinstance(item, dict))
        elif isinstance(body, dict) and not self.field_name:
            yield body
        elif isinstance(body, dict) and isinstance(body.get(self.field_name), list):
            yield from body[self.field_name]


@dataclass
class ReviewReplies(PartooRecords):
    """Each reply of a page of reviews (nested `replies` too), with review_id, parent_id, the review's business_id
    and review_update_date_utc (the cursor). Why Python: no extractor flattens a tree of unknown depth whose
    root (`comments`) may be an object or a list."""

    def records_of(self, body: Any) -> Iterable[Any]:
        for review in filter(lambda r: isinstance(r, dict), super().records_of(body)):
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
                    record["review_id"] = review.get("id") if record.get("review_id") is None else record["review_id"]
                    if record.get("parent_id") is None and parent_id is not None:
                        record["parent_id"] = parent_id
                    record.update(business_id=review.get("business_id"), review_update_date_utc=updated)
                    yield record
                    if reply.get("replies"):
                        pending.append((reply["replies"], reply.get("id")))


def _day(value: Any) -> Optional[str]:
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").strftime("%Y-%m-%d") if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass
class AnalyticsRows(PartooRecords):
    """One flat record per analytics bucket (business_id, date, business_name, a column per metric) from every shape
    Partoo's docs allow (rows under data or metrics, metrics nested or not, the business and the day under
    several keys). `require_date`: a row without a day fails the sync; `as_strings`: loaded as strings.
    Why Python: no extractor flattens unknown nested keys."""

    dimension: str = ""
    require_date: bool = False
    as_strings: Optional[List[str]] = None

    def records_of(self, body: Any) -> Iterable[Any]:
        if isinstance(body, dict) and not isinstance(body.get(self.field_name), list):
            other = body.get("metrics" if self.field_name == "data" else "data")
            body = {self.field_name: other} if isinstance(other, list) else body
        yield from (self.flatten(row) for row in super().records_of(body) if isinstance(row, dict))

    def flatten(self, row: Mapping[str, Any]) -> Dict[str, Any]:
        dims = row.get("dimensions") if isinstance(row.get("dimensions"), dict) else {}
        record = {k: v for k, v in row.items() if k not in {"dimension", "dimension_name", "dimension_info", "dimensions",
                  "metrics", "bucket", "business", "dimension_business", "day", "dimension_day", "dimension_date"}}
        record.update(row["metrics"] if isinstance(row.get("metrics"), dict) else {})
        by_dimension = row.get("dimension") if self.dimension == "business" else None
        businesses = [row.get("business_id"), row.get("business"), row.get("dimension_business"), dims.get("business"), by_dimension]
        business = next((b for b in businesses if b is not None), None)
        record["business_id"] = None if business is None else str(business)
        if self.dimension == "business" and row.get("dimension_name") is not None:
            record["business_name"] = row["dimension_name"]
        days = [row.get(k) for k in ("date", "day", "dimension_day", "dimension_date")] + [dims.get("day"), dims.get("date")]
        record["date"] = next((d for d in map(_day, days) if d), None)
        for key in self.as_strings or []:
            record[key] = record[key] if record.get(key) is None or isinstance(record[key], str) else str(record[key])
        if record["date"] is None and self.require_date:
            raise AirbyteTracedException(
                message="Partoo answered an analytics row without a date, so the connector cannot tell which day it counts; "
                        "the sync stopped instead of loading it under a wrong day. Report it to the connector's "
                        "maintainers with the stream name.",
                internal_message=f"analytics row without a date: keys {sorted(row)}", failure_type=FailureType.system_error)
        return record


@dataclass
class PublisherStates(PartooRecords):
    """One record per business and publisher of GET /publisher_states ({businesses: {id: {..., publishers: {name:
    {...}}}}}). Why Python: no extractor turns an object's keys into rows."""

    def records_of(self, body: Any) -> Iterable[Any]:
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
    """A Partoo date (epoch seconds, or ISO 8601 with a space or a T; naive is UTC) as ISO 8601 in UTC, else None."""
    if value is None or isinstance(value, bool) or not str(value).strip():
        return None
    try:
        try:
            moment = datetime.fromtimestamp(float(value), tz=_UTC)
        except ValueError:
            moment = _date(value)
        return None if moment is _NO_DATE else moment.astimezone(_UTC).isoformat(timespec="microseconds")
    except (TypeError, OverflowError, OSError):
        return None


@dataclass
class AddUtcTimestamps(RecordTransformation):
    """`fields` {new_field: [source, fallback...]}: the first non-null source in UTC. Why Python: a template cannot
    tell epoch numbers from ISO strings, nor an epoch 0 from a null."""

    fields: Mapping[str, List[str]]
    parameters: InitVar[Mapping[str, Any]]

    def transform(self, record: Dict[str, Any], config: Any = None, stream_state: Any = None, stream_slice: Any = None) -> None:
        for target, sources in self.fields.items():
            record[target] = next((v for v in map(utc_timestamp, (record.get(s) for s in sources)) if v), None)


# --- Requests -------------------------------------------------------------------------------------


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    """(scheme, host, port), the port made explicit; an unparseable port never matches."""
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
    """The key (`api_token`) in the `header` header, sent only to the origin of `api_url`: a redirect to another
    origin is refused with a config_error before requests follows it. Why Python: requests follows redirects and
    strips only an Authorization header when one leaves the host."""

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
                message=f"The connector was about to send the API key to {_show(_origin(request.url or ''))} instead of "
                        f"the API at {_show(self._api)}; it stopped. Report this to the connector's maintainers.",
                failure_type=FailureType.system_error)
        request.headers.update(self.get_auth_header())
        if self._refuse_other_origins not in request.hooks["response"]:  # not again on a retry
            request.register_hook("response", self._refuse_other_origins)
        return request

    def _refuse_other_origins(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if not response.is_redirect:
            return response
        location = response.headers["location"]
        try:  # as requests' get_redirect_target reads it
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
            message=f"The API at {_show(source)} redirected to {_show(target)} ({why}), where the connector never sends the "
                    "API key, so it stopped: check base_url (or environment, when base_url is empty) and any proxy between "
                    "the connector and Partoo.",
            internal_message=f"HTTP {response.status_code} redirect to another origin refused",
            failure_type=FailureType.config_error)


def _to_inner(name: str) -> Any:
    return lambda self, *args, **kwargs: getattr(self.requester, name)(*args, **kwargs)


@dataclass
class StopAfterConfigError(Requester):
    """The manifest's HttpRequester `requester`, which sends nothing more once a request failed with a config_error
    (a rejected key...): later partitions end at once, not with a request and an error each (731 windows for
    two years of review metrics). Why Python: an error handler sees only requests already sent."""

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

    # Everything else is the inner requester's.
    get_authenticator, get_url, get_url_base, get_path, get_method = map(
        _to_inner, ["get_authenticator", "get_url", "get_url_base", "get_path", "get_method"])
    get_request_params, get_request_headers, get_request_body_data, get_request_body_json = map(
        _to_inner, ["get_request_params", "get_request_headers", "get_request_body_data", "get_request_body_json"])


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
    for kind, name, why in [(ssl.SSLCertVerificationError, "", ""), (requests.exceptions.ProxyError, "ProxyError",
                            "the proxy could not be used"), ((ssl.SSLError, requests.exceptions.SSLError), "SSLError",
                            "the TLS handshake failed"), (socket.gaierror, "NameResolutionError", "its host name could not "
                            "be resolved"), (ConnectionRefusedError, "", "connection refused")]:
        found = next((c for c in chain if isinstance(c, kind) or (name and type(c).__name__ == name)), None)
        if found is not None:
            return why or f"its TLS certificate could not be verified: {getattr(found, 'verify_message', None) or found}"
    return None


@dataclass
class UnreachableServer(BackoffStrategy):
    """The first backoff strategy: after `max_retries`, a connection that cannot be made (refused, DNS, TLS, proxy) is a
    config_error naming the server; in a check (`_partoo_check`) the first failure a sync would retry ends it with
    a sentence. Why Python: a filter never matches an exception, nor depends on the operation."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    max_retries: Any = 6

    def backoff_time(self, response_or_exception: Any, attempt_count: int) -> Optional[float]:
        error, check = response_or_exception, self.config.get("_partoo_check")
        url = urlsplit(str(self.config.get("_partoo_api_url") or getattr(getattr(error, "request", None), "url", "")))
        server, why = f"{url.scheme}://{url.netloc.rsplit('@', 1)[-1]}", _unreachable(error)
        status = error.status_code if isinstance(error, requests.Response) else None
        later = "test again in a few minutes, and contact Partoo support if it persists."
        if why is not None and (check or attempt_count > int(self.max_retries)):
            message = (f"Could not connect to the Partoo server {server} ({why}; tried "
                       f"{'once' if attempt_count == 1 or check else f'{attempt_count} times'}): check base_url and "
                       "environment in the config, and that this machine's network, firewall and proxy settings "
                       "(HTTPS_PROXY) let it reach that server.")
        elif not check:
            return None
        elif status == 429:
            wait = (error.headers.get("Retry-After") or "").strip()
            message = (f"Partoo's rate limit for this organization is reached (HTTP 429 from {server}): other tools are "
                       f"using its requests; test again {f'in {wait} seconds' if wait.isdigit() else 'in a minute'}, and "
                       "lower requests_per_minute if it keeps happening.")
        elif status is not None:
            message = (f"Partoo's server {server} is failing (HTTP {status}): nothing is wrong with the config as far as "
                       f"the connector can tell; {later}" if status >= 500 else f"Partoo's server {server} answered HTTP "
                       f"{status} with a body that is not the API's JSON: check base_url and any proxy between the "
                       "connector and Partoo, or test again in a few minutes.")
        else:
            what = "is too slow to answer" if isinstance(error, requests.exceptions.Timeout) else "dropped the connection"
            message = f"Partoo's server {server} {what} ({type(error).__name__}): {later}"
        raise AirbyteTracedException(
            message=message, internal_message=f"{'check: ' if check else ''}{f'HTTP {status}' if status else repr(error)}",
            failure_type=FailureType.config_error if why else FailureType.transient_error, exception=None if status else error)


@dataclass
class SkipForbidden(DefaultErrorHandler):
    """DefaultErrorHandler whose 403 skips the stream with `forbidden_message` as a WARNING: a product or role the key
    lacks must not fail the other streams (without one, its response filters decide). Why Python: an IGNORE filter
    logs at INFO only."""

    forbidden_message: str = ""

    def interpret_response(self, response_or_exception: Optional[Any] = None) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 403 and \
                self.forbidden_message:
            message = InterpolatedString.create(self.forbidden_message, parameters={}).eval(self.config)
            _LOGGER.warning(message)
            return ErrorResolution(response_action=ResponseAction.IGNORE, failure_type=None, error_message=message)
        return super().interpret_response(response_or_exception)


# --- Cost estimate: what check says a sync will cost (docs/partoo.md, "What a sync costs") -------------------

# Each endpoint the check reads (one page each), and the streams its answer stands for (a 403 skips them all).
CHECKED: Dict[str, Tuple[str, ...]] = {
    "/conversations": ("conversations", "messages"), "/business/search": ("businesses",),
    "/reviews": ("reviews", "review_replies"), "/user/search": ("users",), "/sections": ("group_sections", "groups"),
    "/org/search": ("organizations",), "/custom_fields": ("custom_fields",),
    "/review_analytics/metrics": ("review_metrics_daily",),
    "/presence_analytics/metrics": ("presence_metrics_daily", "presence_keywords_monthly"), "/posts": ("posts",),
    "/publisher_states": ("publisher_states",), "/feedback/feedback_result": ("feedback_results", "feedback_forms"),
    "/messaging/templates": ("message_templates",)}


def _pages(count: int, size: int = 100) -> int:
    return max(1, -(-count // size))


def estimate_requests(config: Config, counted: Mapping[str, Optional[int]], today: Any) -> Dict[str, Tuple[int, int]]:
    """Requests of a first full sync and of an incremental sync an hour later with nothing new, per stream the check
    found readable, from what its pages counted (`counted`: endpoint -> its list's count, None for a 403) and the
    config. Assumes Partoo's inbox order, under 100 messages a conversation and every business on Google; counts
    every conversation and review, whatever start_date (a check does not filter)."""
    c, b, r, u, s, p, f = (max(0, counted.get(path) or 0) for path in (
        "/conversations", "/business/search", "/reviews", "/user/search", "/sections", "/posts", "/feedback/feedback_result"))
    ids = config.get("business_ids") or []
    start = _date(config.get("analytics_start_date") or str(config.get("start_date") or "")[:10]).date() \
        if config.get("analytics_start_date") or config.get("start_date") else today - timedelta(days=730)
    days = max(0, (today - start).days) + 1  # review windows of a day, today's included
    per_day = _pages(min(b, r // days))  # a window's rows: the businesses with a review updated that day
    months = (today.year * 12 + today.month - (1 if today.day >= 10 else 2)) - (start.year * 12 + start.month) + 1
    windows = max(1, -(-(days - 1) // 30))  # presence: windows of 30 days, the last one to today included
    top = 1 if _whole_list_every(config) > 1 else _pages(c)  # the list's top page, or the whole list every hour
    cost = {
        "conversations": (_pages(c), top), "messages": (_pages(c) + c, top + 1), "businesses": (_pages(b), 1),
        "reviews": (_pages(r), 1), "review_replies": (_pages(r), 1),
        "users": (len(ids) * _pages(u) if ids else _pages(u),) * 2, "group_sections": (_pages(s),) * 2,
        "groups": (_pages(s) + s + s * (counted.get("groups_per_section") or 0),) * 2,
        "organizations": (1, 1), "custom_fields": (1, 1),
        "review_metrics_daily": (days * per_day, min(31, days) * per_day),  # the 30 days' look-back, not before start
        "presence_metrics_daily": ((windows - 1) * _pages(30 * b, 500) + _pages((days - 30 * (windows - 1)) * b, 500),
                                   _pages(min(6, days) * b, 500)),
        "presence_keywords_monthly": (_pages(b) + b * max(0, -(-months // 12)), _pages(b)),
        "posts": (_pages(p),) * 2, "feedback_results": (_pages(f),) * 2,
        "publisher_states": (b // 100 + 1 + (0 < b < 100),) * 2,  # a short first page: one page more
        "feedback_forms": (1, 1), "message_templates": (1, 1)}
    readable = {name for path, names in CHECKED.items() if path in counted and counted[path] is not None for name in names}
    return {name: figures for name, figures in cost.items() if name in readable}


def _whole_list_every(config: Config) -> int:
    """full_list_every_hours: how often a sync reads the whole conversation list (0: every sync)."""
    hours = config.get("full_list_every_hours", 24)
    return hours if type(hours) is int else 24


def _lasts(requests_sent: int, per_minute: int) -> str:
    """How long `requests_sent` take within a budget of `per_minute` requests per 61 s (the manifest's api_budget)."""
    minutes = round(requests_sent * 61 / 60 / per_minute) if requests_sent > per_minute else 0
    return "under a minute" if minutes < 1 else f"about {minutes} min" if minutes < 60 else \
        f"about {minutes // 60} h {minutes % 60:02d} min"


def estimate_line(config: Config, counted: Mapping[str, Optional[int]], today: Any) -> str:
    cost = estimate_requests(config, counted, today)
    first, quiet = sum(f for f, _ in cost.values()), sum(q for _, q in cost.values())
    rate = int(config.get("requests_per_minute") or 300)
    streams = ", ".join(f"{name} {f:,}/{q:,}" for name, (f, q) in sorted(cost.items(), key=lambda i: (-i[1][0], i[0])))
    conversations = counted.get("/conversations")
    # a check counts every conversation and review: start_date leaves those older out of a sync
    at_most = "at most " if config.get("start_date") else ""
    lists = sum(1 for name in ("conversations", "messages") if name in cost) * (_pages(conversations or 0) - 1)
    whole = f"; {lists:,} more once every {_whole_list_every(config)} h, the conversation list read whole" \
        if lists and _whole_list_every(config) > 1 else ""
    return (f"Cost estimate: the API key sees {'no' if conversations is None else f'about {conversations:,}'} "
            f"conversations and about {counted.get('/business/search') or 0:,} businesses. A first sync of the "
            f"{len(cost)} stream{'s' if len(cost) != 1 else ''} it may read sends {at_most}about {first:,} requests ({_lasts(first, rate)} at requests_per_minute {rate}), and an incremental sync an "
            f"hour later with nothing new about {quiet:,} ({_lasts(quiet, rate)}{whole}). Per stream, first/incremental: "
            f"{streams}. docs/partoo.md (What a sync costs) gives the formulas and what they assume.")


@dataclass
class CountInCheck(SkipForbidden):
    """SkipForbidden that, in a check, notes what each endpoint's one page counts (the list's `count`, else its length;
    None for a 403, a product the key lacks) and, once every endpoint of CHECKED has answered, logs estimate_line
    (a check limited to some streams logs none). Why Python: a check's streams share nothing, and CheckStream logs
    no result of its own."""

    def interpret_response(self, response_or_exception: Optional[Any] = None) -> ErrorResolution:
        resolution = super().interpret_response(response_or_exception)
        response = response_or_exception
        if self.config.get("_partoo_check") and isinstance(response, requests.Response) and \
                resolution.response_action in (ResponseAction.SUCCESS, ResponseAction.IGNORE):
            path = urlsplit(response.url).path.removeprefix(urlsplit(str(self.config.get("_partoo_api_url"))).path.rstrip("/"))
            sync, body = _sync(self.config), _body(response) if response.status_code != 403 else None
            items = body if isinstance(body, list) else _first_list(body)
            count = body.get("count") if isinstance(body, dict) else None
            sync.counted[path] = None if response.status_code == 403 else count if type(count) is int else len(items or [])
            groups = items[0].get("groups") if path == "/sections" and items and isinstance(items[0], dict) else None
            if isinstance(groups, list):  # every section assumed to hold as many groups as the first
                sync.counted["groups_per_section"] = len(groups)
            if not sync.estimated and all(p in sync.counted for p in CHECKED):
                sync.estimated = True
                _LOGGER.info(estimate_line(self.config, sync.counted, datetime.now(_UTC).date()))
        return resolution


# --- Config: airbyte-cdk reports a config that breaks the spec in jsonschema's words ("'x' does not match '^(https..."),
# and the spec's transformations run before any validation (a bad start_date crashes format_datetime).

PROBLEM_KEY = "_partoo_config_problem"
CONFIG_SENTENCES: Dict[str, str] = {
    "api_key": "Set api_key to your Partoo API key: it is missing or empty.",
    "environment": "Set environment to production or sandbox (the server your API key belongs to).",
    "base_url": "Set base_url to a URL such as https://api.partoo.co/v2, or leave it empty to use the environment's server.",
    "business_ids": 'Set business_ids to a list of Partoo business ids (strings), such as ["5409c35a97bbc544d8e26737"], or '
                    "leave it empty to read every business.",
    "start_date": "Set start_date to a date (2024-01-31) or a date-time (2024-01-31T00:00:00Z), or leave it empty to load "
                  "everything.",
    "analytics_start_date": "Set analytics_start_date to a date such as 2024-01-31, or leave it empty to start analytics at "
                            "start_date (else two years back).",
    "requests_per_minute": "Set requests_per_minute to a whole number from 1 to 6000 (Partoo allows 300 a minute per "
                           "organization unless it raised your limit).",
    "full_list_every_hours": "Set full_list_every_hours to a whole number of hours from 0 to 720 (how often a sync reads the "
                             "whole conversation list; 0 reads it whole on every sync).",
    "num_workers": "Set num_workers to a whole number from 2 to 16 (the number of requests in flight at once).",
}


class ConfigProblem(AirbyteTracedException, ValueError):
    """A config or saved state the user must fix: a config_error saying how (a ValueError, as validators raise)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(message=sentence, internal_message=sentence, failure_type=FailureType.config_error)

    def __str__(self) -> str:
        return self.message or ""


def _field_problem(name: str, value: Any, api_key: str) -> Optional[str]:
    """What the spec's JSON schema cannot say about a field. Never quotes the user's value, but base_url's host (not
    when the key is in it: check's connection status is not masked)."""
    if name == "api_key" and isinstance(value, str) and value and not all("!" <= c <= "~" and c not in "\"\\" for c in value):
        return ("api_key has a space, a line break or a character that a Partoo API key does not have inside it: copy "
                "the key again from Partoo and paste it alone.")  # masked as written, so no form may differ
    parts = urlsplit(value) if name == "base_url" and isinstance(value, str) else None
    if parts is not None and parts.scheme == "http" and parts.hostname and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        host = value[value.lower().find(parts.hostname):][:len(parts.hostname)]
        hidden = api_key and (api_key.lower() in host.lower() or host.lower() in api_key.lower())
        return f"base_url must use https://{'' if hidden else ' for ' + host}: plain http:// is only allowed for localhost, " \
               "127.0.0.1 or [::1]."
    if name in ("start_date", "analytics_start_date") and value != "":
        moment = _date(value) if isinstance(value, str) and (name == "start_date" or len(value) == 10) else _NO_DATE
        try:
            format_datetime(value, "%Y-%m-%dT%H:%M:%S%z")  # what the spec's transformation renders
        except (ValueError, TypeError, OverflowError):
            moment = _NO_DATE
        if moment is _NO_DATE:
            return CONFIG_SENTENCES[name]
        if moment > datetime.now(_UTC) + timedelta(days=1):  # a day of margin: time zones ahead of UTC
            return f"{name} ({moment.date().isoformat()}) is in the future, so a sync would load nothing: set it to today " \
                   "or an earlier date, or leave it empty."
    if name in ("requests_per_minute", "full_list_every_hours", "num_workers") and type(value) is not int:
        return CONFIG_SENTENCES[name]  # JSON schema counts 5.0 as an integer
    return None


@dataclass
class SetAsideInvalidConfig(ConfigTransformation):
    """The spec's first transformation: strips a pasted api_key (airbyte-cdk then masks the stripped key), removes each
    value the spec's properties ($parameters) or _field_problem refuse, and keeps the first one's sentence under
    PROBLEM_KEY for ReportConfigProblem."""

    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._properties: Mapping[str, Any] = (parameters or {}).get("properties") or {}

    def transform(self, config: MutableMapping[str, Any]) -> None:
        key = config.get("api_key")
        config["api_key"] = key.strip() if isinstance(key, str) else ""  # the spec requires a string: "" is reported
        problems: Dict[str, str] = {}
        for name in list(CONFIG_SENTENCES) + [n for n in self._properties if n not in CONFIG_SENTENCES]:
            value = config.get(name)
            if value is None:
                config.pop(name, None)  # not set: null is how some clients leave a field unset
                continue
            valid = jsonschema.Draft7Validator(self._properties.get(name, {})).is_valid(value) and (name, value) != ("api_key", "")
            sentence = _field_problem(name, value, config["api_key"]) or (None if valid else CONFIG_SENTENCES.get(
                name, f"Set {name} to a value the connector's spec allows."))
            if sentence:
                problems[name] = sentence
                if name != "api_key":  # a refused key stays, so that it is masked
                    del config[name]
        config[PROBLEM_KEY] = next(iter(problems.values()), None)


class ReportConfigProblem(ValidationStrategy):
    """The spec's validation of PROBLEM_KEY: the sentence SetAsideInvalidConfig kept, as a config_error."""

    def validate(self, value: Any) -> None:
        if value:
            raise ConfigProblem(str(value))


@dataclass
class ConfiguredBusinessesExist(RecordFilter):
    """Fails naming each id of business_ids that the first page of GET /business/search does not list (Partoo answers
    a typo with no record, not an error); in a check (`in_check_only`) or always. Why Python: a filter's condition
    sees one record, not the page."""

    in_check_only: bool = True

    def filter_records(self, records: Iterable[Mapping[str, Any]], stream_state: Any, stream_slice: Any = None,
                       next_page_token: Optional[Mapping[str, Any]] = None) -> Iterable[Mapping[str, Any]]:
        records, wanted = list(records), list(dict.fromkeys(self.config.get("business_ids") or []))
        first_page = (next_page_token or {}).get("next_page_token") in (None, 1)
        if wanted and len(wanted) <= 100 and first_page and (self.config.get("_partoo_check") or not self.in_check_only):
            missing = [b for b in wanted if b not in {str(r.get("id")) for r in records if isinstance(r, Mapping)}]
            if missing:
                raise ConfigProblem(f"business_ids names {', '.join(missing)}, which the API key cannot see (a typo, or a "
                                    "business of another organization): correct or remove it, or leave business_ids empty "
                                    "to read every business.")
        return records


# --- Saved state ----------------------------------------------------------------------------------


@dataclass
class CheckSavedState(StateMigration):
    """A stream's saved state, checked before any request with the facts of the stream's cursor (its model): a cursor
    that is not a date is one config_error sentence (airbyte-cdk says "Something went wrong"), another ISO form is
    rewritten, a state without its cursor reads from start_date, and the future and unknown keys warn. Why Python:
    the only stock migration reshapes a state and checks nothing."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    declarative_stream: Any = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        stream, cursor = self.declarative_stream, self.declarative_stream.incremental_sync
        self._stream, self._cursor = stream.name, cursor.cursor_field
        self._formats = [cursor.datetime_format, *(cursor.cursor_datetime_formats or [])]
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
        """The state to use ({}: from start_date), warnings appended to `warnings`; ConfigProblem if it is unusable."""
        name, cursor, said = self._stream, self._cursor, f"The saved state of stream {self._stream}"
        keys = {"use_global_cursor", "state", "states", "lookback_window", "parent_state"}
        partitioned = self._partitioned and bool(keys & set(state))
        unknown = sorted(set(state) - (keys if partitioned else {cursor}))
        if unknown and (partitioned or cursor in state):
            warnings.append(f"{said} has keys this connector does not use ({', '.join(unknown)}): they are ignored.")
        from_start = f"{name} is read from start_date this time"
        if not partitioned:
            if cursor not in state:
                warnings.append(f"{said} has no {cursor} (it holds {', '.join(sorted(map(str, state)))}): {from_start}, as "
                                "if it had no state.")
                return {}
            return {cursor: self._checked(cursor, state[cursor], now, warnings)}
        fixed = {k: v for k, v in state.items() if k in keys}
        if isinstance(fixed.get("state"), Mapping) and cursor in fixed["state"]:
            fixed["state"] = {cursor: self._checked(cursor, fixed["state"][cursor], now, warnings)}
        elif "state" in fixed:
            warnings.append(f"{said} has no {cursor}: {from_start}.")
            fixed.pop("state"), fixed.pop("parent_state", None)  # the list's position is not enough without it
        window = fixed.get("lookback_window", 0)
        if type(window) is not int or window < 0:
            warnings.append(f"{said} has a lookback_window that is not a number of seconds ({window!r}): 0 is used.")
            fixed["lookback_window"] = 0
        if "parent_state" in fixed and self._parent:
            parent, parent_cursor = self._parent
            position = fixed["parent_state"].get(parent) if isinstance(fixed["parent_state"], Mapping) else None
            if isinstance(position, Mapping) and parent_cursor in position:
                where, order = f"parent_state.{parent}.{parent_cursor}", fixed["parent_state"].get(ORDER_KEY)
                fixed["parent_state"] = {parent: {parent_cursor: self._checked(where, position[parent_cursor], now, warnings)}}
                proof = order.get("newest_first_at") if isinstance(order, Mapping) else None
                if isinstance(proof, str) and _date(proof) is not _NO_DATE:
                    fixed["parent_state"][ORDER_KEY] = {"newest_first_at": proof}
                elif order is not None:  # dropping it costs one whole read of the list
                    warnings.append(f"{said} has a parent_state.{ORDER_KEY} this connector cannot read "
                                    f"({json.dumps(order)[:80]}): it is ignored, and this sync reads the whole conversation list.")
            else:
                warnings.append(f"{said} has no position in {parent} ({parent_cursor}): every conversation is listed again "
                                f"this time, and messages are read from the saved {cursor}.")
                fixed.pop("parent_state")
        elif "parent_state" in fixed:
            fixed.pop("parent_state")
        if "states" in fixed and not isinstance(fixed["states"], list):
            raise ConfigProblem(self._sentence(f"has per-conversation states that are not a list "
                                               f"({json.dumps(fixed['states'])[:80]})", cursor))
        if not (fixed.get("state") or fixed.get("states") or fixed.get("parent_state")):
            if "state" not in state:
                warnings.append(f"{said} has no {cursor} (it holds {', '.join(sorted(map(str, state)))}): {from_start}.")
            return {}
        return fixed

    def _checked(self, where: str, value: Any, now: datetime, warnings: List[str]) -> str:
        """The value read with the cursor's formats (else any ISO 8601 date, naive is UTC), written as the cursor does."""
        parser, parsed = DatetimeParser(), None
        for fmt in self._formats if type(value) in (str, int, float) else []:
            try:
                parsed = parser.parse(str(value), fmt)
                break
            except (ValueError, TypeError, OverflowError):
                continue
        parsed = parsed or (_date(value) if isinstance(value, str) and _date(value) is not _NO_DATE else None)
        if parsed is None:
            raise ConfigProblem(self._sentence(f"has {where} = {json.dumps(value)}, which is not a date", where,
                                               parser.format(now, self._formats[0])))
        parsed, said = parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC), f"The saved state of stream {self._stream}"
        written = parser.format(parsed, self._formats[0])
        if written != str(value):
            warnings.append(f"{said} has {where} = {json.dumps(value)}: read as {written}.")
        if parsed > now:
            warnings.append(f"{said} is in the future ({where} = {written}): nothing newer exists yet, so this sync loads "
                            f"nothing new for {self._stream}, and neither will any sync before that date. Reset "
                            f"{self._stream} in Airbyte (or set the value to a past date) if that is not what you want.")
        return written

    def _sentence(self, what: str, where: str, example: str = "2024-01-31 00:00:00.000000+0000") -> str:
        return (f"The saved state of stream {self._stream} {what}: reset the {self._stream} stream in Airbyte (its next sync "
                f"then reads everything since start_date), or set {where} to a date written like {example}.")
