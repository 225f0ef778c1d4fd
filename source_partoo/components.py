"""What manifest.yaml cannot say, or cannot say fast enough.

1. NonRepeatingCursorPagination refuses a pagination cursor that would make the stream loop.

A CursorPagination stop_condition sees only the current response, never the cursors that came before,
and airbyte-cdk shares one pagination strategy between all partitions and threads of a stream (so no
history may live on the instance). The history therefore travels inside the page token itself: a str
that remembers the cursors of the pages before it, handed back to us as `last_page_token_value`.

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
No manifest component orders partitions or derives a parent state from them.

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
"""

import logging
import socket
import ssl
import threading
from copy import deepcopy
from dataclasses import InitVar, dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Set, Tuple
from urllib.parse import urljoin, urlsplit

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.decoders import Decoder
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.partition_routers import PartitionRouter, SubstreamPartitionRouter
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.cursor_pagination_strategy import (
    CursorPaginationStrategy,
)
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
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

    def __init__(self) -> None:
        self.passes = 0
        self.full_passes = 0
        self.known: Dict[Any, str] = {}  # every id listed by the previous passes, with its activity
        self.top_only = False
        self.start_pass(top_only=False)

    def start_pass(self, top_only: bool) -> None:
        self.passes += 1
        self.full_passes += not top_only
        self.top_only = top_only
        self.cursors: Set[str] = set()
        self.listed: Dict[Any, str] = {}
        self.count: Optional[int] = None
        self.shifted_up = False
        self.shifted_down = False
        self.newest_first = True
        self.last_activity: Optional[str] = None

    def observe(self, records: List[Any], count: Any) -> bool:
        """Note a page; True when this is a pass over the top of the list that just reached a page whose
        every conversation was listed before with the same activity (the rest has not moved since)."""
        seen_before = bool(records)
        for record in records:
            if not isinstance(record, dict) or record.get("id") is None:
                seen_before = False
                continue
            key, activity = record["id"], _last_activity(record)
            previous = self.listed.get(key)
            if previous is not None:
                if previous == activity:
                    self.shifted_down = True
                else:
                    self.shifted_up = True
            self.listed[key] = activity
            if self.known.get(key) != activity:
                seen_before = False
            if self.last_activity is not None and activity is not None and _activity(activity) > _activity(self.last_activity):
                self.newest_first = False
            if activity is not None:
                self.last_activity = activity
        if isinstance(count, int) and not isinstance(count, bool):
            if self.count is not None and count < self.count:
                self.shifted_up = True
            elif self.count is not None and count > self.count:
                self.shifted_down = True
            self.count = count
        return self.top_only and seen_before and not self.shifted_up and self.newest_first

    def next_pass(self) -> Optional[bool]:
        """At the end of a pass: None when the read is complete, else whether the next pass may stop at the
        top (True) or must walk the whole list (False)."""
        missing = self.count is not None and not self.top_only and len(self.listed) < self.count
        self.known.update(self.listed)
        if self.shifted_up or ((self.shifted_down or missing) and not self.newest_first):
            return False if self.full_passes < self.MAX_PASSES else None
        if self.shifted_down or missing:
            return True if self.passes < self.MAX_TOP_PASSES else None
        return None

    @property
    def settled(self) -> bool:
        """Whether the last pass saw the list stand still."""
        return not (self.shifted_up or self.shifted_down)


def _last_activity(record: Mapping[str, Any]) -> Optional[str]:
    last_message = record.get("last_message")
    return (last_message.get("date") if isinstance(last_message, dict) else None) or record.get("created_at")


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


def _page_records(body: Any) -> List[Any]:
    """The records of a page: its list under "conversations", "messages" (whichever the body has)."""
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list):
                return value
    return []


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
            read = _ListRead()
        try:
            body = response.json()
        except ValueError:
            body = None
        records = _page_records(body)
        at_known_page = False
        if self.detect_movement:
            at_known_page = read.observe(records, body.get("count") if isinstance(body, dict) else None)
        partition = dict(stream_slice.partition) if stream_slice else {}
        where = f"{response.request.method} {response.request.path_url.split('?')[0]}" + (
            f", {partition}" if partition else ""
        )
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
        last_message = record.get("last_message")
        date = last_message.get("date") if isinstance(last_message, dict) else None
        record["last_activity_at"] = date or record.get("created_at")


_NO_ACTIVITY = datetime.min.replace(tzinfo=timezone.utc)


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
        self._handed_out: Optional[datetime] = None
        self._finished = False

    def stream_slices(self) -> Iterable[StreamSlice]:
        self._initial_state = deepcopy(self.conversations.get_stream_state())
        # The last activity of every listed conversation, a conversation listed twice (the list moved
        # while it was paged) counting once with its latest activity. About 150 bytes per conversation
        # (210 while sorting; docs/performance.md).
        activity: Dict[Any, datetime] = {}
        for listed in self.conversations.stream_slices():
            key = listed.partition[self._partition_field]
            when = _activity(listed.extra_fields.get(self._cursor_field))
            if key not in activity or activity[key] < when:
                activity[key] = when
        # sorted() is stable: ties keep the list's order, so the same list always gives the same order.
        ordered: List[Tuple[datetime, Any]] = sorted(((when, key) for key, when in activity.items()), key=_when)
        del activity
        for when, key in ordered:
            if when is not _NO_ACTIVITY and (self._handed_out is None or when > self._handed_out):
                self._handed_out = when
            yield StreamSlice(partition={self._partition_field: key, "parent_slice": {}}, cursor_slice={})
        self._finished = True

    def get_stream_state(self) -> Optional[Mapping[str, StreamState]]:
        """While partitions are handed out: the last activity of the latest one. airbyte-cdk pairs this
        value with that partition and saves it only when the partition and all before it are done, so
        the saved state never passes a conversation whose messages are not yet read. The boundary is
        inclusive: a resumed sync reads that conversation (and its ties) again, it never skips one.
        At the end: the parent stream's own state, as airbyte-cdk computed it from the whole list."""
        if self._finished or self._initial_state is None:
            return self.conversations.get_stream_state()
        if self._handed_out is None:
            return deepcopy(self._initial_state)
        return {self._parent_name: {self._cursor_field: self._handed_out.strftime(self.state_datetime_format)}}

    # Request options (conversation_id=...) are the inner router's: the partitions have its shape.
    def get_request_params(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_params(**kwargs)

    def get_request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_headers(**kwargs)

    def get_request_body_data(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_body_data(**kwargs)

    def get_request_body_json(self, **kwargs: Any) -> Mapping[str, Any]:
        return self.conversations.get_request_body_json(**kwargs)


def _when(item: Tuple[datetime, Any]) -> datetime:
    return item[0]


@dataclass
class PageRecords(RecordExtractor):
    """The records of a page: the list under `field_name` at the top of the JSON body.

    DpathExtractor says the same with field_path: [conversations], but airbyte-cdk 7.39.1 resolves even a
    one-key path with dpath.get, which walks every value of every record on the page to match the path:
    13% of the connector's CPU in bench/run.py's profile. This is one dictionary lookup per page.

    With `once_per_activity` (the conversation list), a conversation is extracted once per last activity
    in a read: the list is read again when it moved (NonRepeatingCursorPagination), and a conversation
    listed twice, or again by a later pass with the same activity, is not emitted again (a full refresh
    into Overwrite would otherwise load it twice). About 100 bytes per conversation, for one read.
    """

    field_name: str
    decoder: Decoder
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    once_per_activity: bool = False

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._extracted: Set[Tuple[Any, Any]] = set()
        self._lock = threading.Lock()

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for body in self.decoder.decode(response):
            records = body.get(self.field_name) if isinstance(body, dict) else None
            if not isinstance(records, list):
                continue
            if not self.once_per_activity:
                yield from records
                continue
            for record in records:
                last_message = record.get("last_message") if isinstance(record, dict) else None
                key = (
                    record.get("id") if isinstance(record, dict) else None,
                    (last_message.get("date") if isinstance(last_message, dict) else None)
                    or (record.get("created_at") if isinstance(record, dict) else None),
                )
                with self._lock:
                    if key in self._extracted:
                        continue
                    self._extracted.add(key)
                yield record


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
    """A connection that cannot be made (refused, DNS, TLS, proxy) still retries, then ends as a config_error.

    airbyte-cdk retries every requests exception and, once retries are exhausted, reports "Exhausted available
    request attempts ... Connection refused" as a system error: the user learns neither which server was
    tried nor that the fix is in the config or the network. Declared first among the backoff strategies,
    this one lets the others choose the wait (it returns None) until the last attempt has failed, then raises
    the sentence instead. Resets and timeouts are not matched: they stay transient errors.
    `max_retries` (a template) is the error handler's in a sync, fewer in a check (see the manifest).
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
        if attempt_count <= self.max_retries or not isinstance(response_or_exception, requests.RequestException):
            return None
        what = _unreachable_because(response_or_exception)
        if what is None:
            return None
        server = _server_of(response_or_exception, self.config)
        tries = "once" if attempt_count == 1 else f"{attempt_count} times"
        raise AirbyteTracedException(
            message=(
                f"Could not connect to the Partoo server {server} ({what}; tried {tries}): check base_url "
                "and environment in the config, and that this machine's network, firewall and proxy settings "
                "(HTTPS_PROXY) let it reach that server."
            ),
            internal_message=f"{type(response_or_exception).__name__}: {response_or_exception}",
            failure_type=FailureType.config_error,
            exception=response_or_exception,
        )


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


def _server_of(error: requests.RequestException, config: Config) -> str:
    """scheme://host[:port] of the API every request goes to (else of the request that failed), without credentials."""
    url = config.get("_partoo_api_url") or getattr(error.request, "url", None) or ""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts.scheme and parts.netloc else str(url)
