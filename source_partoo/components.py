"""What manifest.yaml cannot say, or cannot say fast enough.

1. NonRepeatingCursorPagination refuses a pagination cursor that would make the stream loop, and (with
`detect_movement`, the conversation list) reads the list again when it moved while it was paged (_ListRead).

A CursorPagination stop_condition sees only the current response, never the cursors that came before,
and airbyte-cdk shares one pagination strategy between all partitions and threads of a stream (so no
history may live on the instance). The history therefore travels inside the page token itself: a str
that carries the read it belongs to, handed back to us as `last_page_token_value`.

2. AddLastActivity adds each conversation's incremental cursor. An AddFields template says the same, but
airbyte-cdk renders it per record through Jinja and ast.literal_eval: in bench/run.py's cpu figure
(20,000 conversations) that template cost about a third of the connector's CPU (12.9 s against 9 s with
this class), which kept it below the performance target; this is one dictionary lookup.

3. ConversationsByLastActivity makes an interrupted sync resumable. airbyte-cdk's SubstreamPartitionRouter
hands out the messages partitions in the order of the conversation list and can only save the list's
position once the whole list is read (Partoo has no date filter and documents no order), so an
interrupted sync had to start over. This router reads the list first (one request per 100
conversations), hands out the conversations oldest activity first, and reports as the parent state the
last activity of the partition just handed out: airbyte-cdk's ConcurrentPerPartitionCursor saves that
state once every partition before it is done, so a resumed sync skips the conversations already read.
Its saved position is never later than the sync's start (see the class). No manifest component orders
partitions or derives a parent state from them.

4. PageRecords takes a page's records with one lookup: DpathExtractor walks the whole page to resolve even
a one-key path (13% of the connector's CPU, see the class).

5. ApiKeyForPartooOnly sends the API key to the API's origin and nowhere else. requests follows redirects
and strips only an `Authorization` header when one leaves the host, so a redirect from a wrong base_url or
a proxy would carry x-APIKey to whatever host it names; airbyte-cdk's HttpClient follows redirects and
ApiKeyAuthenticator has no option against it. Every request of every stream passes through the requester's
authenticator, which can refuse a redirect before requests follows it.

6. UnreachableServer ends a connection that cannot be made (refused, DNS, TLS, proxy) as a config_error
naming the server and what to check. A manifest's HttpResponseFilter only ever matches responses, never
exceptions, so YAML can retry a failed connection but cannot say why it failed (see the class).

7. SharedConversationList, ListOrderProof and the list's paginator make a sync's reads of the conversation
list cost what changed. airbyte-cdk builds the messages' parent stream apart from the `conversations`
stream, so selecting both would read the list twice, and no manifest component shares responses between
two streams: the requester both streams' list readers name (SharedConversationList) hands the pages one
fetched to the other (SharedListPages). A manifest cannot stop a cursor paginator at the saved position,
nor save anything in a state beyond a cursor's value: each reader's paginator stops a list proven newest
first below the lowest activity its own stream reads (the slice airbyte-cdk's cursor hands it), the messages
partition router saves the proof next to its position in the list, and ListOrderProof (a state migration:
the only component a saved state reaches) reads it back for the next sync.
"""

import logging
import os
import re
import socket
import ssl
import tempfile
import threading
from array import array
from collections import OrderedDict
from copy import deepcopy
from dataclasses import InitVar, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Set, Tuple
from urllib.parse import urljoin, urlsplit

import requests
from isodate import parse_duration
from requests.structures import CaseInsensitiveDict

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.decoders import Decoder
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.declarative.partition_routers import PartitionRouter, SubstreamPartitionRouter
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.cursor_pagination_strategy import (
    CursorPaginationStrategy,
)
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import PaginationStrategy
from airbyte_cdk.sources.declarative.requesters.requester import HttpMethod, Requester
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.types import Config, Record, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

_LOGGER = logging.getLogger("airbyte")


class _ListRead:
    """What one read of a list has seen so far, shared by the page tokens of that read.

    A pass is one walk of the list from its first page. Partoo pages its lists by position, so a list that
    changes while it is paged shifts under the reader:
    - down, when a conversation appears or moves above the read position (a new message lifts it to the top
      of an inbox): the conversation at the page boundary is listed twice, with the same activity, and the
      one that moved is not listed by this pass;
    - up, when one above the read position is deleted (`count` drops), or moves below it (then it is listed
      again with a newer activity): the conversation at the boundary is never listed by this pass.
    Either way the read walks the list again, up to MAX_PASSES full passes. When the list only shifted down
    and the pass proved it lists the newest activity first, everything it missed is at the top: the next
    pass stops at the first page it has entirely seen already (a few requests, not the whole list).
    """

    MAX_PASSES = 3  # full passes
    MAX_TOP_PASSES = 10  # passes that stop at the first page already seen (each costs a page or two)

    def __init__(self, stop_before: Optional[datetime] = None) -> None:
        self.passes = 0
        self.full_passes = 0
        # Every id listed by the previous passes, with its activity's hash: two dicts of every conversation
        # per read, so hashes (an int) rather than the dates (strings of 32 characters) they came with.
        self.known: Dict[Any, int] = {}
        self.top_only = False
        # The early stop (ListPlan): every pass ends at the first page that reaches below stop_before, as
        # long as every page this read has seen lists the newest activity first; one page out of order
        # and the read walks the rest of the list, now and in any later pass.
        self.stop_before = stop_before
        self.out_of_order = False
        self.complete_newest_first = False  # a pass walked the whole list, newest activity first
        self.start_pass(top_only=False)

    def start_pass(self, top_only: bool) -> None:
        self.passes += 1
        self.full_passes += not top_only
        self.top_only = top_only
        self.cursors: Set[str] = set()
        self.listed: Dict[Any, int] = {}
        self.count: Optional[int] = None
        self.shifted_up = False
        self.shifted_down = False
        self.newest_first = True
        self.stopped_early = False
        self.last_activity: Optional[datetime] = None

    def observe(self, records: List[Any], count: Any) -> bool:
        """Note a page; True when this is a pass over the top of the list that just reached a page whose
        every conversation was listed before with the same activity (the rest has not moved since)."""
        seen_before = bool(records)
        for record in records:
            if not isinstance(record, dict) or record.get("id") is None:
                seen_before = False
                continue
            key, activity = record["id"], _last_activity(record)
            hashed = hash(activity)
            previous = self.listed.get(key)
            if previous is not None:
                if previous == hashed:
                    self.shifted_down = True
                else:
                    self.shifted_up = True
            self.listed[key] = hashed
            if self.known.get(key) != hashed:
                seen_before = False
            if activity is not None:
                parsed = _activity(activity)
                if self.last_activity is not None and parsed > self.last_activity:
                    self.newest_first = False
                    self.out_of_order = True
                    self.stop_before = None
                self.last_activity = parsed
        if isinstance(count, int) and not isinstance(count, bool):
            if self.count is not None and count < self.count:
                self.shifted_up = True
            elif self.count is not None and count > self.count:
                self.shifted_down = True
            self.count = count
        return self.top_only and seen_before and not self.shifted_up and self.newest_first

    def reached_bound(self) -> bool:
        """Whether this page, in a list proven and still seen newest first, reaches below stop_before: the
        rest of the list is older still, already read by an earlier sync."""
        if self.stop_before is None or self.last_activity is None or self.last_activity >= self.stop_before:
            return False
        self.stopped_early = True
        return True

    def next_pass(self) -> Optional[bool]:
        """At the end of a pass: None when the read is complete, else whether the next pass may stop at the
        top (True) or must walk the whole list (False)."""
        complete = not self.top_only and not self.stopped_early
        missing = complete and self.count is not None and len(self.listed) < self.count
        self.complete_newest_first |= complete and self.newest_first
        if self.known:
            self.known.update(self.listed)
        else:  # the first pass: no copy of a dict of every conversation
            self.known = self.listed
        if self.shifted_up or ((self.shifted_down or missing) and not self.newest_first):
            return False if self.full_passes < self.MAX_PASSES else None
        if self.shifted_down or missing:
            return True if self.passes < self.MAX_TOP_PASSES else None
        return None

    @property
    def settled(self) -> bool:
        """Whether the last pass saw the list stand still."""
        return not (self.shifted_up or self.shifted_down)

    def order_proof(self, previous: Optional[str], now: str) -> Optional[str]:
        """When a read whole and newest first last proved the list's order, after this read: now when this
        read was one, none when any page was out of order, else the previous proof (an early stop proves
        only the pages it read)."""
        if self.out_of_order:
            return None
        return now if self.complete_newest_first else previous


class _Where:
    """The request a message is about ("GET /v2/conversations", with the partition when there is one),
    formatted only when a message is written: the paginators build one for every page."""

    def __init__(self, response: requests.Response, stream_slice: Optional[StreamSlice] = None) -> None:
        self.response, self.stream_slice = response, stream_slice

    def __str__(self) -> str:
        request = self.response.request
        partition = dict(self.stream_slice.partition) if self.stream_slice else {}
        return f"{request.method} {(request.path_url or '').split('?')[0]}" + (f", {partition}" if partition else "")


def _last_activity(record: Mapping[str, Any]) -> Optional[str]:
    last_message = record.get("last_message")
    return (last_message.get("date") if isinstance(last_message, dict) else None) or record.get("created_at")


_UNSEEN = object()


class _Cursor(str):
    """A page token: the cursor exactly as the API sent it (sent back unchanged), plus the read it belongs
    to. `restart` marks the token of a new pass: the manifest then sends no cursor at all."""

    read: _ListRead
    restart: bool

    def __new__(cls, value: str, read: _ListRead, restart: bool = False, top_only: bool = False) -> "_Cursor":
        cursor = super().__new__(cls, value)
        cursor.read = read
        cursor.restart = restart
        cursor.top_only = top_only
        return cursor

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_Cursor":  # airbyte-cdk deep-copies request options
        return self  # immutable as a str; the read it carries must stay shared

    def __copy__(self) -> "_Cursor":
        return self


def _first_list(body: Any) -> Optional[List[Any]]:
    """The first list at the top of a JSON body: a page's records ("conversations", "messages", a search's
    list), whichever the body has; None when it has none."""
    if isinstance(body, dict):
        return next((value for value in body.values() if isinstance(value, list)), None)
    return None


@dataclass
class NonRepeatingCursorPagination(CursorPaginationStrategy):
    """Partoo's cursor pagination (as declared in the manifest), which

    - fails the stream instead of looping when the API returns a cursor it already returned in this pass,
      or a page without any record that still carries a cursor (records the API sent: a page whose
      records are all older than the saved state or start_date is not empty);
    - with `detect_movement`, walks the list again when it changed while it was paged (see _ListRead).

    A CursorPagination stop_condition sees only the current response, never the pages before it, and
    airbyte-cdk shares one pagination strategy between all partitions and threads of a stream (so no
    history may live on the instance): the history travels inside the page token, handed back to us as
    `last_page_token_value`.
    """

    detect_movement: bool = False
    # How far below this stream's saved position a read of a list proven newest first goes on (an ISO 8601
    # duration): ORDER_MARGIN, unless the stream's slice already starts that far below (its lookback_window).
    order_margin: str = "PT1H"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._order_margin = parse_duration(self.order_margin)

    def _stop_before(self, stream_slice: Optional[StreamSlice]) -> Optional[datetime]:
        """Where this stream's read of a list proven newest first may stop (see _ListRead.reached_bound):
        below the lowest activity the stream reads this sync, which airbyte-cdk's cursor puts in the slice
        (its saved position minus its lookback, or start_date), minus order_margin; below start_date, always
        ORDER_MARGIN. None when the list is not proven, or the stream reads everything."""
        if not _list_sync(self.config).early_stop_allowed(self.config):
            return None
        cursor_slice = stream_slice.cursor_slice if stream_slice is not None else None
        start = cursor_slice.get(SLICE_START) if isinstance(cursor_slice, Mapping) else None
        position = _activity(start) if start else _NO_ACTIVITY
        if position <= _EPOCH:
            return None
        floor = _activity(self.config.get("_partoo_start_datetime"))
        return floor - ORDER_MARGIN if position <= floor else position - self._order_margin

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        token = super().next_page_token(
            response,
            last_page_size,
            last_record,
            last_page_token_value,
            page_size_override=page_size_override,
            stream_slice=stream_slice,
        )
        if isinstance(last_page_token_value, _Cursor):
            read = last_page_token_value.read
            if last_page_token_value.restart:
                read.start_pass(top_only=last_page_token_value.top_only)
        else:
            read = _ListRead(stop_before=self._stop_before(stream_slice) if self.detect_movement else None)
        # The records Partoo sent (not those left after the state and start_date filters, which
        # last_page_size counts): parsed again only where needed, a messages page being read already.
        records: List[Any] = [None] * last_page_size
        at_known_page = False
        if self.detect_movement or (token is not None and not last_page_size):
            try:
                body = response.json()
            except ValueError:
                body = None
            records = _first_list(body) or []
            if self.detect_movement:
                at_known_page = read.observe(records, body.get("count") if isinstance(body, dict) else None)
                at_known_page = at_known_page or read.reached_bound()
        where = _Where(response, stream_slice)
        if token is None or at_known_page:
            if not self.detect_movement:
                return None
            next_pass = read.next_pass()
            if next_pass is not None:
                _LOGGER.info(
                    "The list changed while it was read (%s, pass %d): reading %s again so that no conversation "
                    "is missed.", where, read.passes, "its top" if next_pass else "it",
                )
                return _Cursor("restart", read, restart=True, top_only=next_pass)
            _list_sync(self.config).record(read)
            if not read.settled:
                _LOGGER.warning(
                    "The list kept changing during %d successive reads (%s): a conversation that moved in "
                    "the list at the wrong moment in every read may be read only by the next sync.",
                    read.passes, where,
                )
            return None
        token = str(token)
        if token in read.cursors:
            raise AirbyteTracedException(
                message=(
                    f"Partoo returned a pagination cursor it had already returned ({where}); the sync stopped "
                    "instead of reading the same "
                    "pages forever. Retry later, and report it to Partoo support if it persists."
                ),
                internal_message=f"repeated next_cursor after {len(read.cursors)} pages",
                failure_type=FailureType.system_error,
            )
        if not records:
            raise AirbyteTracedException(
                message=(
                    f"Partoo returned an empty page that still carries a next cursor ({where}); the sync stopped "
                    "instead of following "
                    "cursors that bring no records. Retry later, and report it to Partoo support if it persists."
                ),
                internal_message="empty page with a non-null next_cursor",
                failure_type=FailureType.system_error,
            )
        read.cursors.add(token)
        return _Cursor(token, read)


# --- One read of the conversation list per sync, stopped early on a proven order (item 7) -------------

# Where the messages stream's state keeps the order proof, next to its position in the list.
ORDER_KEY = "conversation_list"
# Below a saved position, the early stop reads on for this long: an inbox lists by last activity, but a
# message can be dated a little before it reaches Partoo's list.
ORDER_MARGIN = timedelta(hours=1)
# The slice field where airbyte-cdk's ConcurrentCursor puts the lowest cursor value a stream reads this sync
# (the DatetimeBasedCursor's default partition_field_start).
SLICE_START = "start_time"


class _ListSync:
    """What one sync knows of the conversation list, shared by its two readers (the `conversations` stream
    and the messages' parent stream, which airbyte-cdk builds apart): the order proof the messages state
    saved (ListOrderProof), what this sync's reads proved since, and the pages fetched (SharedListPages).

    airbyte-cdk hands every component of a source the same config and nothing else they could share, so a
    sync is known by what its config holds only for it: the time the spec's config normalization stamped on
    it (`_partoo_sync_started_at`, to the microsecond), with the API, key and businesses it reads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.saved_proof: Optional[str] = None
        self.out_of_order = False  # a read of this sync saw a page out of order
        self.proven = False  # a read of this sync walked the whole list, newest activity first
        self.pages = SharedListPages(readers=2)

    def early_stop_allowed(self, config: Config) -> bool:
        """Whether a read may stop at its saved position: a complete read proved the list newest first
        less than `full_list_every_hours` ago (saved in the messages state), and no read of this sync
        has seen a page out of order since."""
        proof = self.saved_proof
        if proof is None or self.out_of_order:
            return False
        hours = config.get("full_list_every_hours", 24)
        hours = hours if isinstance(hours, (int, float)) and not isinstance(hours, bool) else 24
        return _sync_start(config) - _activity(proof) < timedelta(hours=hours)

    def record(self, read: "_ListRead") -> None:
        """At the end of a read of the list: what it proved of the list's order."""
        with self.lock:
            self.out_of_order |= read.out_of_order
            self.proven |= read.complete_newest_first

    def proof(self, now: str) -> Optional[str]:
        """The order proof the messages state saves: none when any read of this sync saw a page out of
        order, this sync's start when one walked the whole list newest first, else the saved one (an early
        stop proves only the pages it read)."""
        if self.out_of_order:
            return None
        return now if self.proven else self.saved_proof


_SYNCS: "OrderedDict[Tuple[Any, ...], _ListSync]" = OrderedDict()
_SYNCS_LOCK = threading.Lock()
_MAX_SYNCS = 32  # a process that runs many syncs (the Builder's server) keeps the last few


def _list_sync(config: Config) -> _ListSync:
    business_ids = config.get("business_ids")
    key = (
        config.get("_partoo_sync_started_at"),
        config.get("_partoo_api_url"),
        hash(str(config.get("api_key"))),
        tuple(business_ids) if isinstance(business_ids, list) else business_ids,
    )
    with _SYNCS_LOCK:
        sync = _SYNCS.get(key)
        if sync is None:
            sync = _SYNCS[key] = _ListSync()
            while len(_SYNCS) > _MAX_SYNCS:
                _SYNCS.popitem(last=False)[1].pages.close()
        return sync


def _sync_start(config: Config) -> datetime:
    return _activity(config.get("_partoo_sync_started_at"))


def _valid_proof(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and _activity(value) is not _NO_ACTIVITY else None


@dataclass
class ListOrderProof(StateMigration):
    """Reads the proof of the conversation list's order that the messages state saved
    (parent_state.conversation_list.newest_first_at) for this sync's two readers of the list; migrates
    nothing. Why Python: a stream's saved state reaches no component but its cursor and its state
    migrations (airbyte-cdk 7.39.1 hands a paginator the slice, a requester `stream_state={}`, a partition
    router nothing), and the proof is in the messages state while both streams' paginators need it."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        parent = stream_state.get("parent_state") if isinstance(stream_state, Mapping) else None
        order = parent.get(ORDER_KEY) if isinstance(parent, Mapping) else None
        proof = order.get("newest_first_at") if isinstance(order, Mapping) else None
        _list_sync(self.config).saved_proof = _valid_proof(proof)
        return False

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        return stream_state


class SharedListPages:
    """The pages of the conversation list, fetched once for both streams that read it in a sync.

    `conversations` reads the list as its records and `messages` as its partitions, each with its own
    SimpleRetriever (airbyte-cdk builds a parent stream for a substream and never shares it with the
    stream of the same name). Both ask for the same pages (the same parameters, pass by pass) as long as
    their reads go, though each may stop sooner than the other (at its own saved position): keyed by pass,
    cursor and parameters, the first reader to need a page fetches it, and the other gets the same page from
    a spool file instead of a second request, whichever stream runs ahead; neither ever waits for the
    other's progress, only for a fetch under way (so no worker can deadlock on another). A page whose fetch
    failed (after the requester's own retries) or was not a 200 is never reused: the other reader sends it
    itself. Pages are spooled to disk, not kept in memory, and forgotten once both readers had them (with
    one stream selected, the spool keeps the list on disk until the sync ends).
    """

    def __init__(self, readers: int) -> None:
        self._readers = readers
        self._lock = threading.Lock()
        self._pages: Dict[Tuple[Any, ...], "_SpooledPage"] = {}
        self._spool: Any = None
        self._end = 0

    def close(self) -> None:
        with self._lock:
            if self._spool is not None:
                self._spool.close()
            self._spool, self._pages = None, {}

    def send(self, send: Any, kwargs: Dict[str, Any]) -> Optional[requests.Response]:
        token = (kwargs.get("next_page_token") or {}).get("next_page_token")
        if isinstance(token, _Cursor):
            key: Tuple[Any, ...] = (token.read.passes + 1, None) if token.restart else (token.read.passes, str(token))
        else:
            key = (1, None if token is None else str(token))
        params = kwargs.get("request_params") or {}
        key += (tuple(sorted((str(k), str(v)) for k, v in params.items())),)
        with self._lock:
            page = self._pages.get(key)
            owner = page is None
            if owner:
                page = self._pages[key] = _SpooledPage()
        if owner:
            try:
                response = send(**kwargs)
            except BaseException:
                page.ready.set()
                raise
            if response is not None and response.status_code == 200:
                with self._lock:
                    if self._spool is None:
                        self._spool = tempfile.TemporaryFile(prefix="partoo-list-")
                    page.keep(response, self._spool, self._end)
                    self._end += len(response.content)
            page.ready.set()
            return response
        page.ready.wait()
        with self._lock:
            spool = self._spool
            if page.length is None or spool is None:
                spool = None
            else:
                page.served += 1
                if page.served >= self._readers:
                    self._pages.pop(key, None)
        if spool is None:
            return send(**kwargs)
        return page.response(spool)


class _SpooledPage:
    """One page of the list in the spool file: where its body is, and what a Response needs besides."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.served = 1  # the reader that fetched it
        self.length: Optional[int] = None

    def keep(self, response: requests.Response, spool: Any, offset: int) -> None:
        body = response.content
        os.pwrite(spool.fileno(), body, offset)
        self.offset, self.length = offset, len(body)
        self.headers, self.url, self.request = dict(response.headers), response.url, response.request
        self.encoding, self.reason, self.elapsed = response.encoding, response.reason, response.elapsed

    def response(self, spool: Any) -> requests.Response:
        response = requests.Response()  # ours: its body is set as requests sets it when reading one
        response.status_code = 200
        response._content = os.pread(spool.fileno(), self.length, self.offset)  # type: ignore[arg-type]
        response.headers = CaseInsensitiveDict(self.headers)
        response.url, response.request, response.encoding = self.url, self.request, self.encoding
        response.reason, response.elapsed = self.reason, self.elapsed
        return response


@dataclass
class _WrappedRequester(Requester):
    """The manifest's HttpRequester `requester` (built by airbyte-cdk with its retries, request budget, logs
    and errors) behind a class that changes send_request only: everything else is the inner requester's."""

    requester: Requester
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def send_request(self, **kwargs: Any) -> Optional[requests.Response]:  # type: ignore[override]
        return self.requester.send_request(**kwargs)

    @property
    def error_handler(self) -> Any:
        return getattr(self.requester, "error_handler", None)

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


@dataclass
class StopAfterConfigError(_WrappedRequester):
    """The stream's requester, which sends nothing more once one of its requests failed with a config_error
    (Partoo rejected the key, a redirect to another host, a server that cannot be reached): that partition
    ends with the error's sentence, and every partition after it ends at once, without a request or a
    message, since none could succeed before the user fixes the config. An analytics stream reads one
    partition per window (731 days for two years of review metrics): without it, a rejected key cost one
    request and one error trace per window. Why Python: an error handler sees a response only once the
    request is sent, and an IGNORE filter would still send one request per window and log each."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._stopped = False  # shared by the stream's partitions and threads; only ever set to True

    def send_request(self, **kwargs: Any) -> Optional[requests.Response]:  # type: ignore[override]
        if self._stopped:
            return None  # SimpleRetriever ends a partition that gets no response
        try:
            return self.requester.send_request(**kwargs)
        except AirbyteTracedException as error:
            if error.failure_type == FailureType.config_error:
                self._stopped = True
            raise


@dataclass
class SharedConversationList(StopAfterConfigError):
    """The manifest's HttpRequester for the conversation list (`requester`, built by airbyte-cdk with its
    retries, request budget, logs and errors), with its pages shared by the two streams that read the list
    in a sync (SharedListPages). Why Python: airbyte-cdk builds the messages' parent stream apart from the
    `conversations` stream, and no manifest component shares responses between two streams (its HTTP cache
    would serve a live list's first page again to every pass that re-reads it, and a malformed 200 to every
    retry). After a config_error it sends nothing more (StopAfterConfigError)."""

    def send_request(self, **kwargs: Any) -> Optional[requests.Response]:  # type: ignore[override]
        return _list_sync(self.config).pages.send(super().send_request, kwargs)


@dataclass
class AddLastActivity(RecordTransformation):
    """last_activity_at: the date of the conversation's last message, else its creation date."""

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        record["last_activity_at"] = _last_activity(record)


_NO_ACTIVITY = datetime.min.replace(tzinfo=timezone.utc)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _activity(value: Any) -> datetime:
    """Partoo's "2023-01-31 16:22:17.327878+00:00" (or an ISO 8601 variant) as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return _NO_ACTIVITY
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class ConversationsByLastActivity(PartitionRouter):
    """The messages partitions (one per conversation), oldest last activity first, with a parent state
    that advances as they are handed out.

    `conversations` is the SubstreamPartitionRouter declared in the manifest: airbyte-cdk builds it,
    seeds its parent stream with the saved state and reads the list through it. This router only
    changes the order and the parent state; requests options are the inner router's.
    """

    conversations: SubstreamPartitionRouter
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    # The parent state's datetime format: the parent stream's DatetimeBasedCursor.datetime_format.
    state_datetime_format: str = "%Y-%m-%d %H:%M:%S.%f%z"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        parent = self.conversations.parent_stream_configs[0]
        self._parent_name: str = parent.stream.name
        self._cursor_field: str = parent.stream.cursor.cursor_field.cursor_field_key
        self._partition_field: str = str(parent.partition_field.eval(self.config))  # type: ignore[union-attr]
        self._initial_state: Optional[Mapping[str, Any]] = None
        # The last activity of the latest partition handed out, in microseconds since 1970 (_micros).
        self._handed_out: Optional[int] = None
        # The saved position never passes the sync's start: in a list not ordered newest first, a
        # conversation read early whose activity changes while the rest is read keeps its place, so a
        # later conversation can be listed with an activity newer than that change. A position at the
        # sync's start makes the next sync list it again (config transformation in the manifest).
        started = self.config.get("_partoo_sync_started_at")
        self._started: Optional[datetime] = _activity(started) if started else None
        # What a read of the whole list, newest first, proves: the list's order at this sync's start.
        self._started_text = _sync_start(self.config).strftime(self.state_datetime_format)
        self._finished = False

    def stream_slices(self) -> Iterable[StreamSlice]:
        self._initial_state = deepcopy(self.conversations.get_stream_state())
        # The last activity of every listed conversation, a conversation listed twice (the list moved
        # while it was paged) counting once with its latest activity.
        activity: Dict[Any, datetime] = {}
        for listed in self.conversations.stream_slices():
            key = listed.partition[self._partition_field]
            when = _activity(listed.extra_fields.get(self._cursor_field))
            if key not in activity or activity[key] < when:
                activity[key] = when
        # sorted() is stable: ties keep the list's order, so the same list always gives the same order.
        # While the messages are read, the order is kept as a list of ids and an array of microseconds
        # (16 bytes per conversation), not as (datetime, id) pairs (about 110): at 100,000 conversations
        # that is 9 MB less at the sync's peak (docs/performance.md, issue 22).
        keys: List[Any] = sorted(activity, key=activity.__getitem__)
        micros = array("q", (_micros(activity[key]) for key in keys))
        del activity
        for key, when in zip(keys, micros):
            if when != _NO_ACTIVITY_MICROS and (self._handed_out is None or when > self._handed_out):
                self._handed_out = when
            yield StreamSlice(partition={self._partition_field: key, "parent_slice": {}}, cursor_slice={})
        self._finished = True

    def get_stream_state(self) -> Optional[Mapping[str, StreamState]]:
        """While partitions are handed out: the last activity of the latest one. airbyte-cdk pairs this
        value with that partition and saves it only when the partition and all before it are done, so
        the saved state never passes a conversation whose messages are not yet read. The boundary is
        inclusive: a resumed sync reads that conversation (and its ties) again, it never skips one.
        At the end: the parent stream's own state, as airbyte-cdk computed it from the whole list.
        Either way no later than the sync's start (see __post_init__)."""
        if self._finished or self._initial_state is None:
            return self._with_order(self._no_later_than_start(self.conversations.get_stream_state()))
        if self._handed_out is None:
            return self._with_order(deepcopy(self._initial_state))
        handed_out = _EPOCH + self._handed_out * _MICROSECOND  # in UTC: the same instant as the activity
        position = handed_out if self._started is None else min(handed_out, self._started)
        return self._with_order({self._parent_name: {self._cursor_field: position.strftime(self.state_datetime_format)}})

    def _with_order(self, state: Optional[Mapping[str, StreamState]]) -> Optional[Mapping[str, StreamState]]:
        """The position in the list, with what the reads proved of the list's order (ListOrderProof reads it).
        airbyte-cdk reads its parent's state under the parent's name and leaves other keys alone."""
        proof = _list_sync(self.config).proof(self._started_text)
        if not state or proof is None:
            return state
        return {**state, ORDER_KEY: {"newest_first_at": proof}}

    def _no_later_than_start(self, state: Optional[Mapping[str, StreamState]]) -> Optional[Mapping[str, StreamState]]:
        saved = (state or {}).get(self._parent_name) or {}
        value = saved.get(self._cursor_field) if isinstance(saved, Mapping) else None
        if self._started is None or value is None or _activity(value) <= self._started:
            return state
        return {**state, self._parent_name: {**saved, self._cursor_field: self._started.strftime(self.state_datetime_format)}}

    # Request options (conversation_id=...) are the inner router's: the partitions have its shape.
    def get_request_params(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_params(**kwargs)

    def get_request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_headers(**kwargs)

    def get_request_body_data(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_body_data(**kwargs)

    def get_request_body_json(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_body_json(**kwargs)


_MICROSECOND = timedelta(microseconds=1)
_NO_ACTIVITY_MICROS = (_NO_ACTIVITY - _EPOCH) // _MICROSECOND
_LAST_MICROS = (datetime.max.replace(tzinfo=timezone.utc) - _EPOCH) // _MICROSECOND


def _micros(when: datetime) -> int:
    """An aware datetime as microseconds since 1970, exactly, within what a UTC datetime can hold (an
    activity in year 1 or 9999 with an offset is moved to that edge, so that it converts back)."""
    return min(max((when - _EPOCH) // _MICROSECOND, _NO_ACTIVITY_MICROS), _LAST_MICROS)


@dataclass
class PageRecords(RecordExtractor):
    """The records of a page: the list under `field_name` at the top of the JSON body.

    DpathExtractor says the same with field_path: [conversations], but airbyte-cdk 7.39.1 resolves even a
    one-key path with dpath.get, which walks every value of every record on the page to match the path:
    13% of the connector's CPU in bench/run.py's profile. This is one dictionary lookup per page.

    With `once_per_activity` (the conversation list), a conversation is extracted once per last activity
    in a read: the list is read again when it moved (NonRepeatingCursorPagination), and a conversation
    listed twice, or again by a later pass with the same activity, is not emitted again (a full refresh
    into Overwrite would otherwise load it twice). It keeps each conversation's id with the hash of the
    activity it was extracted with: about 90 bytes per conversation, for one read. The messages' parent
    reads the list without it: ConversationsByLastActivity keeps one partition per conversation anyway.
    """

    field_name: str
    decoder: Decoder
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    once_per_activity: bool = False

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        # id -> the hash of the activity it was first extracted with: one integer per conversation, not a
        # pair. (A record that is not an object counts as id None with no activity: extracted once.)
        self._extracted: Dict[Any, Optional[int]] = {}
        # (id, hash) of the other activities a conversation was extracted with: rare, so pairs only here.
        self._extracted_again: Set[Tuple[Any, Optional[int]]] = set()
        self._lock = threading.Lock()

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for body in self.decoder.decode(response):
            records = body.get(self.field_name) if isinstance(body, dict) else None
            if not isinstance(records, list):
                continue
            if not self.once_per_activity:
                yield from records
                continue
            # The activity's hash, not the date (a string of 32 characters).
            keys: List[Tuple[Any, Any]] = []
            failure: Optional[Exception] = None
            for record in records:
                try:
                    key = record.get("id") if isinstance(record, dict) else None
                    hash(key)
                    keys.append((key, hash(_last_activity(record)) if isinstance(record, dict) else None))
                except Exception as error:  # an unhashable id or date: the records before it go out first
                    failure = error
                    break
            with self._lock:  # once per page, whichever of airbyte-cdk's threads reads the list
                new = []
                for (key, activity), record in zip(keys, records):
                    seen = self._extracted.get(key, _UNSEEN)
                    if seen is _UNSEEN:
                        self._extracted[key] = activity
                    elif seen == activity or (key, activity) in self._extracted_again:
                        continue
                    else:
                        self._extracted_again.add((key, activity))
                    new.append(record)
            yield from new
            if failure is not None:
                raise failure


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    """(scheme, host, port) of a URL, the port made explicit; an unparseable port never matches."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _show(origin: Tuple[str, str, Optional[int]]) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port in (None, {"https": 443, "http": 80}.get(scheme)) else f":{port}")


@dataclass
class ApiKeyForPartooOnly(DeclarativeAuthenticator):
    """The manifest's ApiKeyAuthenticator (the key rendered from `api_token` into the `header` header,
    exactly as airbyte-cdk's InterpolatedStringTokenProvider renders it), sent only to the origin (scheme,
    host, port) of `api_url`, the API root.

    airbyte-cdk's HttpClient sets this authenticator on its session, so requests calls it to prepare every
    request and before every retry; it registers a response hook on the request, which requests runs on
    each response before it follows a redirect (and on every hop after). The hook refuses a redirect to
    another origin, https to http included, with a config_error: the exception is not a requests error,
    so HttpClient neither retries it nor follows the redirect. A redirect within the origin is followed.
    """

    api_token: str
    header: str
    api_url: str
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._token = InterpolatedString.create(self.api_token, parameters=parameters)
        self._api_url = InterpolatedString.create(self.api_url, parameters=parameters)
        self._api: Optional[Tuple[str, str, Optional[int]]] = None

    @property
    def auth_header(self) -> str:
        return self.header

    @property
    def token(self) -> str:
        return str(self._token.eval(self.config))

    def _api_origin(self) -> Tuple[str, str, Optional[int]]:
        if self._api is None:  # once: the config does not change during a run (threads may race; same value)
            self._api = _origin(str(self._api_url.eval(self.config)))
        return self._api

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        api = self._api_origin()
        if _origin(request.url or "") != api:
            # Every stream's URL is the API root's: a request elsewhere is a connector bug, never sent.
            raise AirbyteTracedException(
                message=(
                    f"The connector was about to send the API key to {_show(_origin(request.url or ''))} instead of "
                    f"the API at {_show(api)}; it stopped. Report this to the connector's maintainers."
                ),
                failure_type=FailureType.system_error,
            )
        request.headers.update(self.get_auth_header())
        if self._refuse_other_origins not in request.hooks["response"]:  # not again on a retry
            request.register_hook("response", self._refuse_other_origins)
        return request

    def _refuse_other_origins(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if not response.is_redirect:
            return response
        # The target as requests computes it (Session.get_redirect_target, then resolve_redirects).
        location = response.headers["location"]
        try:
            location = location.encode("latin1").decode("utf8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        source, target, api = _origin(response.url), _origin(urljoin(response.url, location)), self._api_origin()
        if target == api:
            return response
        response.close()
        why = (
            "plain http instead of https" if source[0] == "https" and target[0] == "http"
            else "another host" if source[1] != target[1]
            else "another port" if source[2] != target[2] else "another scheme"
        )
        raise AirbyteTracedException(
            message=(
                f"The API at {_show(source)} redirected to {_show(target)} ({why}), where the connector never sends "
                "the API key, so it stopped: check base_url (or environment, when base_url is empty) and any proxy "
                "between the connector and Partoo."
            ),
            internal_message=f"HTTP {response.status_code} redirect to another origin refused",
            failure_type=FailureType.config_error,
        )


@dataclass
class UnreachableServer(BackoffStrategy):
    """A connection that cannot be made (refused, DNS, TLS, proxy) still retries, then ends as a config_error;
    and in a check, any failure that a sync would retry ends the check at once with one sentence.

    airbyte-cdk retries every requests exception and, once retries are exhausted, reports "Exhausted available
    request attempts ... Connection refused" as a system error: the user learns neither which server was
    tried nor that the fix is in the config or the network. Declared first among the backoff strategies,
    this one lets the others choose the wait (it returns None) until the last attempt has failed, then raises
    the sentence instead. Resets and timeouts are not matched: they stay transient errors in a sync.

    A check is a person waiting at the "Test" button: the manifest's check sets `_partoo_check` in its
    config_overrides, and then the first 5xx, 429, timeout, reset or malformed page ends the check with a
    sentence saying that Partoo's server is failing, rate limited or too slow, and to try again later
    (a sync keeps its long retries). Why Python: a filter's action and the requester's retries cannot depend
    on the operation, and a filter never matches an exception.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    max_retries: Any = 6

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        retries = InterpolatedString.create(str(self.max_retries), parameters=parameters).eval(self.config)
        self.max_retries = int(retries)

    def backoff_time(
        self,
        response_or_exception: Optional[requests.Response | requests.RequestException],
        attempt_count: int,
    ) -> Optional[float]:
        if self.config.get("_partoo_check"):
            raise _check_failure(response_or_exception, self.config)
        if attempt_count <= self.max_retries or not isinstance(response_or_exception, requests.RequestException):
            return None
        unreachable = _unreachable(response_or_exception, attempt_count, self.config)
        if unreachable is None:
            return None  # a transient failure: the other strategies choose the wait
        raise unreachable


def _unreachable(error: Any, attempt_count: int, config: Config) -> Optional[AirbyteTracedException]:
    """The config_error for a connection that could not be made, or None when the failure may be transient."""
    what = _unreachable_because(error) if isinstance(error, requests.RequestException) else None
    if what is None:
        return None
    server = _server_of(error, config)
    tries = "once" if attempt_count == 1 else f"{attempt_count} times"
    return AirbyteTracedException(
        message=(
            f"Could not connect to the Partoo server {server} ({what}; tried {tries}): check base_url "
            "and environment in the config, and that this machine's network, firewall and proxy settings "
            "(HTTPS_PROXY) let it reach that server."
        ),
        internal_message=f"{type(error).__name__}: {error}",
        failure_type=FailureType.config_error,
        exception=error,
    )


def _check_failure(response_or_exception: Any, config: Config) -> AirbyteTracedException:
    """What a check says at the first failure a sync would retry."""
    unreachable = _unreachable(response_or_exception, 1, config)
    if unreachable is not None:
        return unreachable
    server = _server_of(response_or_exception, config)
    if isinstance(response_or_exception, requests.Response):
        status = response_or_exception.status_code
        if status == 429:
            wait = response_or_exception.headers.get("Retry-After")
            after = f" in {wait} seconds" if wait and wait.strip().isdigit() else " in a minute"
            message = (
                f"Partoo's rate limit for this organization is reached (HTTP 429 from {server}): other tools are "
                f"using its requests; test again{after}, and lower requests_per_minute if it keeps happening."
            )
        elif status >= 500:
            message = (
                f"Partoo's server {server} is failing (HTTP {status}): nothing is wrong with the config as far as "
                "the connector can tell; test again in a few minutes, and contact Partoo support if it persists."
            )
        else:
            message = (
                f"Partoo's server {server} answered HTTP {status} with a body that is not the API's JSON: check "
                "base_url and any proxy between the connector and Partoo, or test again in a few minutes."
            )
        internal = f"check: HTTP {status}"
    else:
        kind = type(response_or_exception).__name__
        slow = isinstance(response_or_exception, requests.exceptions.Timeout)
        message = (
            f"Partoo's server {server} is too slow to answer ({kind}): test again in a few minutes, and contact "
            "Partoo support if it persists." if slow else
            f"Partoo's server {server} dropped the connection ({kind}): test again in a few minutes, and contact "
            "Partoo support if it persists."
        )
        internal = f"check: {kind}: {response_or_exception}"
    return AirbyteTracedException(message=message, internal_message=internal, failure_type=FailureType.transient_error)


def _exception_chain(error: BaseException) -> Iterable[BaseException]:
    """The exception and everything it wraps: requests wraps urllib3's MaxRetryError, which wraps the cause."""
    pending: List[Any] = [error]
    seen: set = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])


def _unreachable_because(error: requests.RequestException) -> Optional[str]:
    """Why no connection could be made to the server, or None when the failure may be transient."""
    if not isinstance(error, requests.exceptions.ConnectionError) or isinstance(error, requests.exceptions.Timeout):
        return None  # a timeout (ConnectTimeout is both) or anything else: transient
    chain = list(_exception_chain(error))

    def found(*kinds: type, named: str = "") -> Optional[BaseException]:
        return next((c for c in chain if isinstance(c, kinds) or type(c).__name__ == named), None)

    # Most specific first: requests' SSLError wraps the certificate error that says what is wrong.
    certificate = found(ssl.SSLCertVerificationError)
    if certificate is not None:
        return f"its TLS certificate could not be verified: {getattr(certificate, 'verify_message', None) or certificate}"
    if found(requests.exceptions.ProxyError, named="ProxyError"):
        return "the proxy could not be used"
    if found(ssl.SSLError, requests.exceptions.SSLError, named="SSLError"):
        return "the TLS handshake failed"
    if found(socket.gaierror, named="NameResolutionError"):
        return "its host name could not be resolved"
    if found(ConnectionRefusedError):
        return "connection refused"
    return None


def _server_of(error: Any, config: Config) -> str:
    """scheme://host[:port] of the API every request goes to (else of the request that failed or was answered),
    without credentials."""
    url = config.get("_partoo_api_url") or getattr(getattr(error, "request", None), "url", None) or ""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts.scheme and parts.netloc else str(url)


# ---------------------------------------------------------------------------------------------------
# The search endpoints beyond Messages (issue #14): businesses, reviews, review_replies, users, groups,
# organizations, custom fields. Each class below says why the manifest cannot say it.
# ---------------------------------------------------------------------------------------------------


class _Page(int):
    """A page number, plus what the pages before it said (the strategy instance is shared by every
    partition and thread of a stream, so, like _Cursor, the history travels inside the token)."""

    first_max_page: int
    last_max_page: int
    growths: int

    def __new__(cls, number: int, first_max_page: int = 0, last_max_page: int = 0, growths: int = 0) -> "_Page":
        page = super().__new__(cls, number)
        page.first_max_page = first_max_page
        page.last_max_page = last_max_page
        page.growths = growths
        return page

    def __getnewargs__(self) -> tuple:  # airbyte-cdk deep-copies request parameters
        return (int(self), self.first_max_page, self.last_max_page, self.growths)


# A max_page that grew on this many pages in a row, or more pages than twice the first max_page (+10):
# the list keeps moving faster than it is read, or the server is broken; either way, stop.
_MAX_PAGE_GROWTHS_IN_A_ROW = 3


@dataclass
class PageNumberPagination(PaginationStrategy):
    """Partoo's search pagination, {page, max_page, count, <list_key>: [...]}: page 1 first, then the next
    page until page >= max_page, or the list is empty, or the body has no max_page (an unpaginated answer).
    Never stops on a short page: Partoo may ignore per_page and serve 30 records a page.

    Why not PageIncrement: it stops on a page shorter than per_page (wrong when per_page is ignored) and
    cannot see max_page. Why not CursorPagination with a `response.page + 1` template: a stop_condition
    sees only the current page, so it can neither notice a page number that does not advance nor a
    max_page that keeps growing, and the stream would loop. `list_key` is read from the body itself, not
    from the records extracted: review_replies extracts replies, and a page of reviews without replies
    is not the last page.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    # The key of the page's list: the stream's $parameters.list_key; without one, the body's first list.
    list_key: str = ""
    page_size: Optional[Any] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self.list_key = self.list_key or str(parameters.get("list_key") or "")
        self._page_size: Optional[int] = None
        if self.page_size is not None:
            rendered = InterpolatedString.create(str(self.page_size), parameters=parameters).eval(self.config)
            self._page_size = int(rendered) if rendered not in (None, "") else None

    @property
    def initial_token(self) -> Optional[Any]:
        return _Page(1)

    def get_page_size(self) -> Optional[int]:
        return self._page_size

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        try:
            body = response.json()
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None  # a bare list: an unpaginated answer (GET /sections may answer so)
        records = body.get(self.list_key) if self.list_key in body else _first_list(body)  # None: no list
        max_page = body.get("max_page")
        if not isinstance(records, list) or not records or not isinstance(max_page, int) or isinstance(max_page, bool):
            return None
        asked = int(last_page_token_value) if last_page_token_value is not None else 1
        where = _Where(response)
        answered = body.get("page")
        if isinstance(answered, int) and not isinstance(answered, bool) and answered != asked:
            raise AirbyteTracedException(
                message=(
                    f"Partoo answered page {answered} when asked for page {asked} ({where}): the page number does "
                    "not advance, so the sync stopped instead of reading the same page forever. Retry later, and "
                    "report it to Partoo support if it persists."
                ),
                internal_message=f"page {answered} != requested {asked}",
                failure_type=FailureType.system_error,
            )
        if asked >= max_page:
            return None
        previous: Optional[_Page] = last_page_token_value if isinstance(last_page_token_value, _Page) else None
        first = previous.first_max_page if previous is not None and previous.first_max_page else max_page
        last = previous.last_max_page if previous is not None and previous.last_max_page else max_page
        growths = previous.growths + 1 if previous is not None and max_page > last else 0
        if growths >= _MAX_PAGE_GROWTHS_IN_A_ROW or asked + 1 > 2 * first + 10:
            raise AirbyteTracedException(
                message=(
                    f"Partoo's max_page keeps growing ({first} at page 1, {max_page} at page {asked}; {where}): "
                    "the sync stopped instead of following a list that never ends. Retry later, and report it "
                    "to Partoo support if it persists."
                ),
                internal_message=f"max_page grew {growths} times in a row, from {first} to {max_page}",
                failure_type=FailureType.system_error,
            )
        return _Page(asked + 1, first, max_page, growths)


_UTC = timezone.utc


def utc_timestamp(value: Any) -> Optional[str]:
    """Any date Partoo sends, as ISO 8601 in UTC ("2019-06-24T00:11:51.681374+00:00"), else None.

    Epoch seconds (int or float: businesses, users), ISO 8601 with an offset (reviews), with a space or
    a T, and naive ISO 8601 (read as UTC: Partoo says its dates are stored in UTC)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            moment = datetime.fromtimestamp(float(value), tz=_UTC)
        else:
            text = str(value).strip()
            if not text:
                return None
            try:
                moment = datetime.fromtimestamp(float(text), tz=_UTC)
            except ValueError:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
                moment = moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.isoformat(timespec="microseconds")


@dataclass
class AddUtcTimestamps(RecordTransformation):
    """Adds, for each `fields` entry {new_field: [source, fallback...]}, the first non-null source as a UTC
    timestamp (utc_timestamp), leaving Partoo's own fields exactly as sent.

    Why Python: Partoo's dates come as epoch floats, epoch integers or ISO strings with offsets; one
    AddFields template per field would be rendered through Jinja and ast.literal_eval for every record
    (the cost AddLastActivity avoids), and could not tell an epoch 0 from a null without more templates.
    """

    fields: Mapping[str, List[str]]
    parameters: InitVar[Mapping[str, Any]]

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        for target, sources in self.fields.items():
            value = None
            for source in sources:
                value = utc_timestamp(record.get(source))
                if value is not None:
                    break
            record[target] = value


@dataclass
class SkipForbidden(DefaultErrorHandler):
    """The manifest's DefaultErrorHandler (its response_filters, retries and backoff), except that HTTP 403
    skips the stream with `forbidden_message` logged as a WARNING: an organization without a product
    (reviews without Review Management...) or a user whose role may not read one endpoint gets 403 there
    only, and that must not fail the other streams.

    Why Python: an IGNORE response filter would skip it too, but airbyte-cdk logs an ignored response at
    INFO only, where nobody looks, and never hands a non-2xx body to the record extractor.
    """

    forbidden_message: str = ""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._forbidden = InterpolatedString.create(self.forbidden_message or "", parameters=parameters)

    def interpret_response(self, response_or_exception: Optional[Any] = None) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 403:
            message = self._forbidden.eval(self.config) or "Partoo refused access (HTTP 403); this stream is skipped."
            _LOGGER.warning(message)
            return ErrorResolution(response_action=ResponseAction.IGNORE, failure_type=None, error_message=message)
        return super().interpret_response(response_or_exception)


@dataclass
class PartooRecords(RecordExtractor):
    """The records of a Partoo answer: the list under `field_name` (a search page), the body itself when it
    is a list (GET /sections may answer a bare list: its wrapper is not documented) or, without
    `field_name`, the body when it is one object (GET /sections/{id}/groups/{id}). Why Python: PageRecords
    takes the first form only, DpathExtractor is slow (see PageRecords) and takes no alternatives.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    field_name: str = ""
    # Declared for the manifest's sake, not used: JsonDecoder splits a top-level list into its items, which
    # would hide whether the answer was a bare list or one object.
    decoder: Optional[Decoder] = None

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        try:
            body = response.json()
        except ValueError:
            return
        yield from self.records_of(body)

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        if isinstance(body, list):
            yield from (item for item in body if isinstance(item, dict))
        elif isinstance(body, dict):
            if not self.field_name:
                yield body
                return
            records = body.get(self.field_name)
            if isinstance(records, list):
                yield from records


@dataclass
class ReviewReplies(PartooRecords):
    """The replies inside a page of reviews, one record each: Partoo has no endpoint listing replies.

    A review's `comments` may be one object (as documented), an array, or null, and each reply may carry
    nested `replies`; every level becomes its own record (without its nested `replies`, which are records
    of their own), with `review_id` and `parent_id` filled in from where it was found when Partoo omits
    them, plus the review's `business_id` and `review_update_date_utc` (the stream's cursor: the review's
    update_date, else its date, in UTC). Why Python: no manifest extractor flattens a tree of unknown depth
    whose root may be an object or a list.
    """

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        for review in super().records_of(body):
            if not isinstance(review, dict):
                continue
            review_update = utc_timestamp(review.get("update_date")) or utc_timestamp(review.get("date"))
            seen: set = set()
            pending: List[Tuple[Any, Any]] = [(review.get("comments"), None)]
            while pending:
                node, parent_id = pending.pop(0)
                for reply in node if isinstance(node, list) else [node]:
                    if not isinstance(reply, dict):
                        continue
                    key = reply.get("id")
                    if key is not None and key in seen:
                        continue
                    seen.add(key)
                    record = {k: v for k, v in reply.items() if k != "replies"}
                    if record.get("review_id") is None:
                        record["review_id"] = review.get("id")
                    if record.get("parent_id") is None and parent_id is not None:
                        record["parent_id"] = parent_id
                    record["business_id"] = review.get("business_id")
                    record["review_update_date_utc"] = review_update
                    yield record
                    if reply.get("replies"):
                        pending.append((reply.get("replies"), key))


# ---------------------------------------------------------------------------------------------------
# Analytics and reports (issue #24): review and presence metrics, search keywords, listing states.
# ---------------------------------------------------------------------------------------------------

# Where an analytics row may carry its business and its date: Partoo documents neither for presence
# metrics with dimensions (a third-party client saw flat rows under `metrics`; review analytics answers
# `{dimension, dimension_name, dimension_info, metrics: {...}}` under `data`; the keywords sibling keys
# its rows by `business_id` and `date`). Every documented reading is accepted.
_BUSINESS_KEYS = ("business_id", "business", "dimension_business")
_DATE_KEYS = ("date", "day", "dimension_day", "dimension_date")
_ROW_WRAPPERS = {"dimension", "dimension_name", "dimension_info", "dimensions", "metrics", "bucket"}


def _day(value: Any) -> Optional[str]:
    """A bucket's day as YYYY-MM-DD ('2024-01-31', '2024-01-31T00:00:00', '2024-01-31 00:00:00+00:00'),
    else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").strftime("%Y-%m-%d")
    except ValueError:
        return None


@dataclass
class AnalyticsRows(PartooRecords):
    """The rows of an analytics answer, one flat record per bucket: `business_id`, `date` (YYYY-MM-DD),
    `business_name` when Partoo names it, then each metric as its own column (object metrics such as
    reply_time or rating_distribution kept whole).

    The rows may sit under `data` or `metrics` (`field_name` first, then the other); a row's metrics may be
    flat or in a `metrics` object; its business under business_id, business, a `dimensions` object, or
    `dimension` when `dimension` ($parameters) is `business`; its date under date/day or a `dimensions`
    object (`bucket` only names the grain). With `require_date`, a row without a date fails the sync:
    a window of several days cannot say which day such a row is (never load a wrong day silently).
    Streams whose windows are one day long add the day from their window (AddFields).

    Why Python: the shapes are undocumented and differ between endpoints; a DpathExtractor takes one
    path and no AddFields template can flatten a nested object of unknown keys.
    """

    dimension: str = ""
    require_date: bool = False
    # Fields loaded as strings whatever their JSON type (a keyword may come as a number: the docs show 123).
    as_strings: Optional[List[str]] = None

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        if isinstance(body, dict) and not isinstance(body.get(self.field_name), list):
            other = "metrics" if self.field_name == "data" else "data"
            body = {self.field_name: body.get(other)} if isinstance(body.get(other), list) else body
        for row in super().records_of(body):
            if isinstance(row, dict):
                yield self.flatten(row)

    def flatten(self, row: Mapping[str, Any]) -> Dict[str, Any]:
        dimensions = row.get("dimensions") if isinstance(row.get("dimensions"), dict) else {}
        record: Dict[str, Any] = {k: v for k, v in row.items() if k not in _ROW_WRAPPERS}
        if isinstance(row.get("metrics"), dict):
            record.update(row["metrics"])
        business = next((row.get(k) for k in _BUSINESS_KEYS if row.get(k) is not None), None)
        business = business if business is not None else dimensions.get("business")
        if business is None and self.dimension == "business":
            business = row.get("dimension")
        for key in _BUSINESS_KEYS[1:]:
            record.pop(key, None)
        record["business_id"] = None if business is None else str(business)
        if self.dimension == "business" and row.get("dimension_name") is not None:
            record["business_name"] = row.get("dimension_name")
        days = (_day(row.get(k)) for k in _DATE_KEYS)
        day = next((d for d in days if d), None) or _day(dimensions.get("day")) or _day(dimensions.get("date"))
        for key in _DATE_KEYS[1:]:
            record.pop(key, None)
        record["date"] = day
        for key in self.as_strings or []:
            if record.get(key) is not None and not isinstance(record[key], str):
                record[key] = str(record[key])
        if day is None and self.require_date:
            raise AirbyteTracedException(
                message=(
                    "Partoo answered an analytics row without a date, so the connector cannot tell which day "
                    "it counts; the sync stopped instead of loading it under a wrong day. Report it to the "
                    "connector's maintainers with the stream name."
                ),
                internal_message=f"analytics row without a date: keys {sorted(row)}",
                failure_type=FailureType.system_error,
            )
        return record


@dataclass
class PublisherStates(PartooRecords):
    """GET /publisher_states answers `{"businesses": {"<business id>": {business_id, business_name,
    business_formatted_address, publishers: {"<publisher>": {state, error_type, url_on_publisher}}}}}`:
    an object keyed by business, then by publisher. One record per business and publisher (the grain a
    listing report counts), with the business's fields. Why Python: no manifest extractor turns the keys of
    an object into rows."""

    def records_of(self, body: Any) -> Iterable[MutableMapping[Any, Any]]:
        businesses = body.get(self.field_name) if isinstance(body, dict) else None
        if isinstance(businesses, list):  # should Partoo ever answer a list of the same objects
            businesses = {str(b.get("business_id")): b for b in businesses if isinstance(b, dict)}
        if not isinstance(businesses, dict):
            return
        for key, business in businesses.items():
            if not isinstance(business, dict):
                continue
            publishers = business.get("publishers")
            for publisher, listing in (publishers.items() if isinstance(publishers, dict) else []):
                listing = listing if isinstance(listing, dict) else {}
                yield {
                    "business_id": str(business.get("business_id") or key),
                    "publisher": publisher,
                    "business_name": business.get("business_name"),
                    "business_formatted_address": business.get("business_formatted_address"),
                    **listing,
                }


def _page_keys(body: Any, list_key: str) -> Optional[List[str]]:
    """The keys (an object's) or ids (a list's) of the items of a page, in order; None: not a page."""
    items = body.get(list_key) if isinstance(body, dict) else None
    if isinstance(items, dict):
        return [str(k) for k in items]
    if isinstance(items, list):
        return [str(i.get("business_id") if isinstance(i, dict) else i) for i in items]
    return None


@dataclass
class ShortPagePagination(PageNumberPagination):
    """Page numbers for an endpoint whose body has no max_page (GET /publisher_states: `count` is the
    number of items on this page): the next page until a page is empty, or shorter than both the page
    size asked and the page before it. A short first page is therefore followed by one more request: a
    server that ignored per_page (its default is 5 there) serves short pages that are not the last.
    A page with the very items of the page before (the page number did not advance) stops the sync.

    Why Python: PageIncrement stops on the first page shorter than the page size, counting extracted
    records (here one per business and publisher, not per business), and never sees the page before.
    """

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        try:
            body = response.json()
        except ValueError:
            return None
        keys = _page_keys(body, self.list_key)
        if not keys:
            return None
        asked = int(last_page_token_value) if last_page_token_value is not None else 1
        previous: Optional[_ShortPage] = last_page_token_value if isinstance(last_page_token_value, _ShortPage) else None
        size = page_size_override or self._page_size or len(keys)
        if previous is not None and previous.keys == tuple(keys):
            raise AirbyteTracedException(
                message=(
                    f"Partoo answered page {asked} with the same items as page {asked - 1} ({_Where(response)}): "
                    "the page number does not advance, so the sync stopped instead of reading the same page "
                    "forever. Retry later, and report it to Partoo support if it persists."
                ),
                internal_message=f"page {asked} repeats page {asked - 1}",
                failure_type=FailureType.system_error,
            )
        if len(keys) < size and previous is not None and len(keys) < previous.size:
            return None
        return _ShortPage(asked + 1, tuple(keys), len(keys))


class _ShortPage(_Page):
    """A page number, plus the items and the size of the page before it (see _Page)."""

    keys: Tuple[str, ...]
    size: int

    def __new__(cls, number: int, keys: Tuple[str, ...] = (), size: int = 0) -> "_ShortPage":
        page = super().__new__(cls, number)
        page.keys = keys
        page.size = size
        return page

    def __getnewargs__(self) -> tuple:
        return (int(self), self.keys, self.size)


# ---------------------------------------------------------------------------------------------------
# Config errors as one sentence saying what to fix, in every runtime (issue #22 item 1). The spec names
# both classes in config_normalization_rules.
#
# Why YAML cannot say it: airbyte-cdk reports a config that breaks the spec's JSON schema with
# jsonschema's own words ("'x' does not match '^(https://...'", "'staging' is not one of [...]"), which
# tell a user neither what is wrong nor what to do, and the spec's transformations run in the source's
# constructor, where a bad start_date crashes format_datetime before anything is validated (the
# manifest-only runner then prints "Error starting the sync ... invalid literal for int()"). A
# DpathValidator with ValidateAdheresToSchema has the same jsonschema words, and a PredicateValidator
# is never handed the config in airbyte-cdk 7.39.1.
#
# So: SetAsideInvalidConfig, the spec's first transformation, checks every field (the spec's own JSON
# schema of the field, handed over in $parameters, plus what a schema cannot say: plain http to a remote
# host, a date that does not exist, blank strings), sets each invalid value aside (removed; api_key
# blanked, as the spec requires one) so that neither the other transformations nor the entrypoint's
# schema check trip over it, and keeps the first problem's sentence under PROBLEM_KEY.
# ReportConfigProblem, the spec's validation of that key, raises it as a config_error when airbyte-cdk
# validates the config, before it builds any stream: in check, discover and read, in every runtime.
# ---------------------------------------------------------------------------------------------------

# Imported here, not at the top, so that this section stays in one place.
from airbyte_cdk.sources.declarative.interpolation.macros import format_datetime  # noqa: E402
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import (  # noqa: E402
    ConfigTransformation,
)
from airbyte_cdk.sources.declarative.validators import ValidationStrategy  # noqa: E402

PROBLEM_KEY = "_partoo_config_problem"
# Records a search page holds (per_page) when nothing else is set: the manifest's page size.
PAGE_SIZE = 100

# The characters an API key may hold: printable ASCII, but neither a quote nor a backslash.
KEY_CHARACTERS = re.compile(r'[!#-\[\]-~]')
KEY_INSIDE_SENTENCE = (
    "api_key has a space, a line break or a character that a Partoo API key does not have inside it: "
    "copy the key again from Partoo and paste it alone."
)

# The hosts the spec's base_url pattern allows over plain http.
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

# The sentence for each field when its value is not one the spec allows, in the order fields are
# checked (the first problem is the one reported).
CONFIG_SENTENCES: Dict[str, str] = {
    "api_key": "Set api_key to your Partoo API key: it is missing or empty.",
    "environment": "Set environment to production or sandbox (the server your API key belongs to).",
    "base_url": (
        "Set base_url to a URL such as https://api.partoo.co/v2, or leave it empty to use the "
        "environment's server."
    ),
    "business_ids": (
        'Set business_ids to a list of Partoo business ids (strings), such as ["5409c35a97bbc544d8e26737"], '
        "or leave it empty to read every business."
    ),
    "start_date": (
        "Set start_date to a date (2024-01-31) or a date-time (2024-01-31T00:00:00Z), or leave it "
        "empty to load everything."
    ),
    "analytics_start_date": (
        "Set analytics_start_date to a date such as 2024-01-31, or leave it empty to start analytics at "
        "start_date (else two years back)."
    ),
    "requests_per_minute": (
        "Set requests_per_minute to a whole number from 1 to 6000 (Partoo allows 300 a minute per "
        "organization unless it raised your limit)."
    ),
    "full_list_every_hours": (
        "Set full_list_every_hours to a whole number of hours from 0 to 720 (how often a sync reads the "
        "whole conversation list; 0 reads it whole on every sync)."
    ),
    "num_workers": "Set num_workers to a whole number from 2 to 16 (the number of requests in flight at once).",
}


class ConfigProblem(AirbyteTracedException, ValueError):
    """A config or a saved state the user must fix: a config_error whose message is the sentence saying how.
    A ValueError too, which is what a ValidationStrategy is documented to raise."""

    def __init__(self, sentence: str) -> None:
        super().__init__(message=sentence, internal_message=sentence, failure_type=FailureType.config_error)

    def __str__(self) -> str:
        return self.message or ""


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _future_date_problem(name: str, value: str) -> Optional[str]:
    """The sentence for a start date after tomorrow (UTC): every sync would load nothing and say nothing. A
    day of margin, so that today's date written in a time zone ahead of UTC is accepted."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    if moment <= datetime.now(timezone.utc) + timedelta(days=1):
        return None
    return (
        f"{name} ({moment.date().isoformat()}) is in the future, so a sync would load nothing: set it to today or "
        "an earlier date, or leave it empty."
    )


def _start_date_ok(value: Any) -> bool:
    if value in (None, ""):
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        # What the spec's _partoo_start_datetime transformation renders: it must not crash on the value.
        format_datetime(value, "%Y-%m-%dT%H:%M:%S%z")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _field_problem(name: str, value: Any, api_key: str = "") -> Optional[str]:
    """What a JSON schema cannot say about one field, as its sentence; None when nothing. A sentence never
    quotes what the user typed, except base_url's host as typed, and not when the API key is in it:
    airbyte-cdk masks the key in traces and logs, but not in check's connection status."""
    if name == "api_key":
        if not isinstance(value, str) or not value.strip():
            return CONFIG_SENTENCES[name]
        # Printable ASCII but quotes and backslashes: the key is masked in every output by its exact text,
        # and JSON or repr would write any other character differently (see SetAsideInvalidConfig).
        return None if all(KEY_CHARACTERS.match(c) for c in value.strip()) else KEY_INSIDE_SENTENCE
    if name == "base_url" and value not in (None, ""):
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or " " in value:
            return CONFIG_SENTENCES[name]
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
            start = value.lower().find(parts.hostname)
            host = value[start:start + len(parts.hostname)] if start >= 0 else parts.hostname
            key = api_key.strip().lower()
            where = "" if key and (key in host.lower() or host.lower() in key) else f" for {host}"
            return (
                f"base_url must use https://{where}: plain http:// is only allowed for "
                "localhost, 127.0.0.1 or [::1]."
            )
    if name == "business_ids" and value is not None:
        if not isinstance(value, list) or not all(isinstance(b, str) and b.strip() for b in value):
            return CONFIG_SENTENCES[name]
    if name == "start_date" and not _start_date_ok(value):
        return CONFIG_SENTENCES[name]
    if name == "analytics_start_date" and value not in (None, "") and (len(str(value)) != 10 or _day(value) is None):
        return CONFIG_SENTENCES[name]
    if name in ("start_date", "analytics_start_date") and value not in (None, ""):
        return _future_date_problem(name, value)
    if name in ("requests_per_minute", "full_list_every_hours", "num_workers") and value is not None:
        if not _whole_number(value):  # JSON schema counts 5.0 as an integer, and the connector did not
            return CONFIG_SENTENCES[name]
    return None


def config_problems(config: Mapping[str, Any], properties: Mapping[str, Any]) -> Dict[str, str]:
    """Every field of `config` whose value the spec does not allow, with the sentence saying what to fix,
    in CONFIG_SENTENCES' order, then the spec's other properties. `properties`: the spec's JSON schema
    properties."""
    import jsonschema  # airbyte-cdk's dependency; imported here, as only a bad config needs it

    problems: Dict[str, str] = {}
    names = list(CONFIG_SENTENCES) + [name for name in properties if name not in CONFIG_SENTENCES]
    for name in names:
        if config.get(name) is None and name != "api_key":
            continue  # not set (null is how some clients leave a field unset)
        value = config.get(name)
        api_key = config.get("api_key")
        sentence = _field_problem(name, value, api_key if isinstance(api_key, str) else "")
        if sentence is None and name in config and name in properties:
            if not jsonschema.Draft7Validator(properties[name]).is_valid(value):
                sentence = CONFIG_SENTENCES.get(name) or f"Set {name} to a value the connector's spec allows."
        if sentence is not None:
            problems[name] = sentence
    return problems


@dataclass
class SetAsideInvalidConfig(ConfigTransformation):
    """The spec's first config transformation (see the section's comment). $parameters: `properties`,
    the spec's connection_specification properties (a reference in the manifest, so there is one
    definition of what each field allows)."""

    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._properties: Mapping[str, Any] = (parameters or {}).get("properties") or {}

    def transform(self, config: MutableMapping[str, Any]) -> None:
        # A key pasted with a space or a line break around it is used without them. airbyte-cdk masks the
        # key of the config this returns, so the stripped key is masked wherever it appears, inside the
        # pasted one's raw, escaped or repr form too.
        if isinstance(config.get("api_key"), str):
            config["api_key"] = config["api_key"].strip()
        problems = config_problems(config, self._properties)
        for name in [name for name in self._properties if name in config and config[name] is None]:
            if name not in problems:
                del config[name]  # null means not set; the spec's types would refuse it
        for name in problems:
            if name == "api_key":
                # The spec requires a string: a refused one stays (so that it is masked), anything else is "".
                config[name] = config[name] if isinstance(config.get(name), str) else ""
            else:
                config.pop(name, None)
        config[PROBLEM_KEY] = next(iter(problems.values()), None)


@dataclass
class ConfiguredBusinessesExist(RecordFilter):
    """Fails, with one sentence naming them, when the first page of GET /business/search?business__in=<ids>
    does not list every id of business_ids: Partoo answers an id with a typo, or of another organization,
    with no record rather than an error, so every stream would load nothing without a word. On the
    businesses stream in a check (`in_check_only`), and on the businesses read as partitions in a sync; at
    most PAGE_SIZE ids (one page). Why Python: a record filter's condition sees one record, not the page."""

    in_check_only: bool = True

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: Mapping[str, Any],
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        records = list(records)
        wanted = list(dict.fromkeys(self.config.get("business_ids") or []))
        page = (next_page_token or {}).get("next_page_token")
        if wanted and len(wanted) <= PAGE_SIZE and page in (None, 1) and (self.config.get("_partoo_check") or not self.in_check_only):
            listed = {str(record.get("id")) for record in records if isinstance(record, Mapping)}
            missing = [business for business in wanted if business not in listed]
            if missing:
                raise ConfigProblem(
                    f"business_ids names {', '.join(missing)}, which the API key cannot see (a typo, or a business of "
                    "another organization): correct or remove it, or leave business_ids empty to read every business."
                )
        return records


class ReportConfigProblem(ValidationStrategy):
    """The spec's validation of PROBLEM_KEY: the sentence SetAsideInvalidConfig kept, as a config_error."""

    def validate(self, value: Any) -> None:
        if value:
            raise ConfigProblem(str(value))


# ===================================================================================================
# Saved states: CheckSavedState, each incremental stream's `state_migrations` in manifest.yaml.
#
# Airbyte users edit a connection's state, copy it between connections, and upgrade the connector under
# it. airbyte-cdk fails on a cursor it cannot parse with "Something went wrong in the connector", and a
# state in the future makes every sync silently load nothing. A state migration is the one place a
# manifest gets to see a stream's saved state before its cursor does: airbyte-cdk 7.39.1 applies a
# stream's `state_migrations` when it builds the stream (ModelToComponentFactory.create_default_stream ->
# _migrate_state), for every stream of the manifest whatever the catalog selects, before any request;
# for messages, before it hands `parent_state` to the parent stream. The only built-in migration
# (LegacyToPerPartitionStateMigration) reshapes a state and cannot check one, hence Python. Per stream:
# - a state of a released version (0.1.0 to 0.3.x wrote the same shapes) is used as it is, quietly;
# - a date that is not in the cursor's own format but is unambiguous (an ISO date or date-time; UTC when
#   it has no offset) is rewritten in that format, with a warning;
# - a state without the stream's cursor (say {"foo": "bar"}) reads the stream from start_date, with a
#   warning: re-reading loses nothing;
# - a cursor value that is not a date cannot be read safely (it may be a position someone meant): the
#   sync stops before any request with one config_error sentence naming the stream and the value
#   (an AirbyteTracedException raised here leaves streams() and the read: airbyte-cdk's uncaught
#   exception hook prints it as the trace, and the process exits 1);
# - a position later than now logs a warning naming the stream, on every sync.
# Warnings go to the "airbyte" logger, which airbyte-cdk prints as Airbyte LOG messages (WARN).
# The migration sees one stream's state, already parsed: a state file airbyte-cdk cannot parse (the
# legacy format keyed by stream name, a stream_state that is not an object) fails in airbyte-cdk before
# any component is loaded, and LEGACY messages never reach a stream (docs: "Saved states").
# The facts (cursor field, formats, the parent of messages) are the migration's own fields in the
# manifest, next to the cursor they describe; unit_tests/test_saved_state.py checks they agree.
# ===================================================================================================

# This section's imports stay with it (it is appended to the file).
from dataclasses import field as _field  # noqa: E402
import json as _json  # noqa: E402

from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser  # noqa: E402
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration  # noqa: E402

# The keys airbyte-cdk's per-partition cursor writes for a substream (messages); all else is unknown.
SUBSTREAM_STATE_KEYS = {"use_global_cursor", "state", "states", "lookback_window", "parent_state"}


# A saved state the connector cannot use: the same config_error sentence as a bad config value.
SavedStateError = ConfigProblem


@dataclass
class CheckSavedState(StateMigration):
    """A stream's saved state as its cursor should get it (see the section's comment)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    # The stream's DatetimeBasedCursor: cursor_field, datetime_format (how it writes its state) and
    # cursor_datetime_formats (what else it reads).
    cursor_field: str
    datetime_format: str
    cursor_datetime_formats: List[str] = _field(default_factory=list)
    # A substream whose parent's position is saved with it (incremental_dependency): the parent stream's
    # name and cursor, as in its parent_state.
    parent_stream: Optional[str] = None
    parent_cursor_field: Optional[str] = None
    parent_datetime_format: Optional[str] = None
    parent_cursor_datetime_formats: List[str] = _field(default_factory=list)
    # A stream with one cursor per partition and no parent position (presence_keywords_monthly: one per
    # business): its saved {states: [...], state: {...}} is kept, not read as a plain cursor.
    partitioned: bool = False
    # airbyte-cdk passes every state migration the stream's model; only its name is read (for sentences).
    declarative_stream: Any = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._stream = str(getattr(self.declarative_stream, "name", None) or parameters.get("name") or "?")
        self._formats = _state_formats(self.datetime_format, self.cursor_datetime_formats)
        self._parent_formats = _state_formats(self.parent_datetime_format or self.datetime_format,
                                              self.parent_cursor_datetime_formats)

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        """Every saved state is checked; no state is nothing to check."""
        return bool(stream_state)

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        warnings: List[str] = []
        checked = self.check(stream_state, datetime.now(timezone.utc), warnings)
        for warning in warnings:
            _LOGGER.warning(warning)
        return checked

    def check(self, state: Mapping[str, Any], now: datetime, warnings: List[str]) -> Dict[str, Any]:
        """The state to use ({}: read the stream from start_date), the warnings appended to `warnings`;
        SavedStateError when it cannot be used."""
        name, cursor = self._stream, self.cursor_field
        if not state:
            return {}
        if (self.parent_stream is None and not self.partitioned) or not SUBSTREAM_STATE_KEYS & set(state):
            # A plain cursor: {"last_activity_at": ...}; the global form of a substream's state is the same.
            if cursor not in state:
                warnings.append(
                    f"The saved state of stream {name} has no {cursor} (it holds {_state_keys(state)}): {name} is read "
                    "from start_date this time, as if it had no state."
                )
                return {}
            unknown = sorted(set(state) - {cursor})
            if unknown:
                warnings.append(f"The saved state of stream {name} has keys this connector does not use ({', '.join(unknown)}): they are ignored.")
            return {cursor: self._date(cursor, state[cursor], self._formats, now, warnings)}
        # A substream's state: {use_global_cursor, state: {date}, lookback_window, parent_state: {conversations: {...}}}
        unknown = sorted(set(state) - SUBSTREAM_STATE_KEYS)
        if unknown:
            warnings.append(f"The saved state of stream {name} has keys this connector does not use ({', '.join(unknown)}): they are ignored.")
        fixed: Dict[str, Any] = {k: deepcopy(v) for k, v in state.items() if k in SUBSTREAM_STATE_KEYS}
        if "state" in fixed:
            inner = fixed["state"]
            if not isinstance(inner, Mapping) or cursor not in inner:
                warnings.append(f"The saved state of stream {name} has no {cursor}: {name} is read from start_date this time.")
                fixed.pop("state")
                fixed.pop("parent_state", None)  # without the message cursor, its parent's position is not enough
            else:
                fixed["state"] = {cursor: self._date(cursor, inner[cursor], self._formats, now, warnings)}
        if "lookback_window" in fixed:
            window = fixed["lookback_window"]
            if not isinstance(window, int) or isinstance(window, bool) or window < 0:
                warnings.append(f"The saved state of stream {name} has a lookback_window that is not a number of seconds ({window!r}): 0 is used.")
                fixed["lookback_window"] = 0
        parent_name, parent_cursor = self.parent_stream, self.parent_cursor_field or ""
        if "parent_state" in fixed and parent_name is None:
            fixed.pop("parent_state")  # no parent position is saved for this stream: nothing to read in it
        if "parent_state" in fixed:
            parent = fixed["parent_state"]
            position = parent.get(parent_name) if isinstance(parent, Mapping) else None
            if not isinstance(position, Mapping) or parent_cursor not in position:
                warnings.append(
                    f"The saved state of stream {name} has no position in {parent_name} ({parent_cursor}): every "
                    f"conversation is listed again this time, and messages are read from the saved {cursor}."
                )
                fixed.pop("parent_state")
            else:
                where = f"parent_state.{parent_name}.{parent_cursor}"
                value = self._date(where, position[parent_cursor], self._parent_formats, now, warnings)
                fixed["parent_state"] = {parent_name: {parent_cursor: value}}
                order = self._order_proof(parent, warnings)
                if order:
                    fixed["parent_state"][ORDER_KEY] = order
        if "states" in fixed and not isinstance(fixed["states"], list):
            raise SavedStateError(_state_sentence(name, "has per-conversation states that are not a list", fixed["states"], cursor))
        # A sync interrupted before its first message cursor saves only its position in the list: the
        # resume reads on from there.
        if not fixed.get("state") and not fixed.get("states") and not fixed.get("parent_state"):
            if "state" not in state:  # (a "state" without the cursor was reported above)
                warnings.append(f"The saved state of stream {name} has no {cursor} (it holds {_state_keys(state)}): {name} is read from start_date this time.")
            return {}
        return fixed

    def _order_proof(self, parent: Mapping[str, Any], warnings: List[str]) -> Optional[Dict[str, str]]:
        """What a read proved of the conversation list's order (list_plan), kept when it is a date; anything
        else is dropped with a warning: the list is then read whole, which loses nothing."""
        if ORDER_KEY not in parent:
            return None
        order = parent[ORDER_KEY]
        proof = order.get("newest_first_at") if isinstance(order, Mapping) else None
        try:
            datetime.fromisoformat(proof) if isinstance(proof, str) else None
        except ValueError:
            proof = None
        if not isinstance(proof, str):
            warnings.append(
                f"The saved state of stream {self._stream} has a parent_state.{ORDER_KEY} this connector cannot read "
                f"({_json.dumps(order)[:80]}): it is ignored, and this sync reads the whole conversation list."
            )
            return None
        return {"newest_first_at": proof}

    def _date(self, where: str, value: Any, formats: List[str], now: datetime, warnings: List[str]) -> Any:
        """The saved value, parsed with the cursor's own formats (or, as a safe reading, any ISO 8601 date,
        UTC when it has no offset) and written back in the format the cursor writes."""
        stream, parser = self._stream, DatetimeParser()
        parsed = None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            for fmt in formats:
                try:
                    parsed = parser.parse(str(value), fmt)
                    break
                except (ValueError, TypeError, OverflowError):
                    continue
            if parsed is None and isinstance(value, str):
                try:
                    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                except ValueError:
                    parsed = None
        if parsed is None:
            raise SavedStateError(_state_sentence(stream, f"has {where} = {_json.dumps(value)}, which is not a date", None,
                                                  where, parser.format(now, formats[0])))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        written = parser.format(parsed, formats[0])
        if written != str(value):
            warnings.append(f"The saved state of stream {stream} has {where} = {_json.dumps(value)}: read as {written}.")
        if parsed > now:
            warnings.append(
                f"The saved state of stream {stream} is in the future ({where} = {written}): nothing newer exists yet, so "
                f"this sync loads nothing new for {stream}, and neither will any sync before that date. Reset {stream} in "
                "Airbyte (or set the value to a past date) if that is not what you want."
            )
        return written


def _state_formats(written: str, read: List[str]) -> List[str]:
    """The formats a cursor's saved value may have: the one it writes first, then those it reads."""
    return [written] + [f for f in read or [] if f != written]


def _state_sentence(stream: str, what: str, value: Any, where: str, example: str = "2024-01-31 00:00:00.000000+0000") -> str:
    shown = "" if value is None else f" ({_json.dumps(value)[:80]})"
    return (
        f"The saved state of stream {stream} {what}{shown}: reset the {stream} stream in Airbyte (its next sync then "
        f"reads everything since start_date), or set {where} to a date written like {example}."
    )


def _state_keys(state: Mapping[str, Any]) -> str:
    return ", ".join(sorted(map(str, state))) or "nothing"
