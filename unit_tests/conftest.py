"""Fixtures for fast tests against mocked HTTP (requests-mock): no network, no real sleeping."""

from __future__ import annotations

import itertools
import json
import time
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Mapping, Optional

import pytest
from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, read
from airbyte_cdk.test.state_builder import StateBuilder
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_partoo.source import SourcePartoo

API_KEY = "k3y-THAT-must-never-leak"
BASE = "https://api.partoo.co/v2"
SANDBOX = "https://api.sandbox.partoo.co/v2"


def make_config(**overrides: Any) -> Dict[str, Any]:
    config: Dict[str, Any] = {"api_key": API_KEY}
    config.update(overrides)
    return config


def conversation(cid: int, last: Optional[str] = "2024-03-01 10:00:00.000000+00:00", **fields: Any) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "id": cid,
        "consumer_name": f"Customer {cid}",
        "created_at": "2024-01-01 09:00:00.000001+00:00",
        "status": "Open",
        "messaging_partner": "Google",
        "business": {"id": "b1", "name": "Shop"},
        "issues": [],
        "last_message": None if last is None else message(cid * 100, cid, last),
    }
    record.update(fields)
    return record


def message(mid: int, cid: int, date: str, **fields: Any) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "id": mid,
        "conversation_id": cid,
        "date": date,
        "content_type": "Text",
        "sender_type": "Consumer",
        "status": "Success",
        "content": f"hello {mid}",
    }
    record.update(fields)
    return record


# The endpoints check asks, in its order (manifest.yaml: check.stream_names), each with a page of one record.
CHECKED = {
    "conversations": ("/conversations", {"conversations": [{"id": 1, "created_at": "2024-01-01 00:00:00.000000+00:00"}],
                                         "count": 1, "next_cursor": "abc"}),
    "businesses": ("/business/search", {"businesses": [{"id": "b1", "modified": 1.0}], "page": 1, "max_page": 1, "count": 1}),
    "reviews": ("/reviews", {"reviews": [{"id": 7, "date": "2024-01-01T00:00:00+00:00"}], "page": 1, "max_page": 1, "count": 1}),
    "users": ("/user/search", {"users": [{"id": "u1"}], "page": 1, "max_page": 1, "count": 1}),
    "group_sections": ("/sections", {"sections": [{"id": 3}], "page": 1, "max_page": 1, "count": 1}),
    "organizations": ("/org/search", {"orgs": [{"org_id": 1}], "page": 1, "max_page": 1, "count": 1}),
    "custom_fields": ("/custom_fields", {"custom_fields": [{"id": 5}]}),
    "review_metrics_daily": ("/review_analytics/metrics", {"data": [{"dimension": "b1", "metrics": {"reviews_count": 1}}],
                                                           "page": 1, "max_page": 1, "count": 1}),
    "presence_metrics_daily": ("/presence_analytics/metrics", {"metrics": [{"business_id": "b1", "date": "2024-01-01", "call_clicks": 1}],
                                                               "page": 1, "max_page": 1, "count": 1}),
    "posts": ("/posts", {"posts": [{"id": 8}], "page": 1, "max_page": 1, "count": 1}),
    "publisher_states": ("/publisher_states", {"businesses": {"b1": {"business_id": "b1", "publishers": {"waze": {"state": "success"}}}},
                                               "count": 1}),
    "feedback_results": ("/feedback/feedback_result", {"items": [{"id": 9}], "page": 1, "max_page": 1, "count": 1}),
    "message_templates": ("/messaging/templates", [{"id": 10}]),
}


def serve_check(requests_mock: Any, base: str = BASE, status: Optional[Dict[str, int]] = None,
                skip: Any = (), **answers: Any) -> None:
    """Every endpoint check asks; `status` (stream -> HTTP status) and `answers` (stream -> requests-mock
    kwargs) change some of them; `skip` leaves some to the test's own mocks."""
    for stream, (path, body) in CHECKED.items():
        if stream in skip:
            continue
        code = (status or {}).get(stream, 200)
        kwargs = answers.get(stream) or {"status_code": code, "json": body if code == 200 else
                                         {"errors": {"authorization": "Operation not allowed"}}}
        requests_mock.get(f"{base}{path}", **kwargs)


class FakePartoo:
    """Serves /conversations and /messages from lists, paginated by opaque cursors, whatever the order
    in which the connector asks (the parent stream and the substream read concurrently)."""

    def __init__(self, mocker: Any, base: str = BASE) -> None:
        self.base = base
        self.conversations: List[Dict[str, Any]] = []
        self.messages: Dict[int, List[Dict[str, Any]]] = {}
        self.page_size = 100
        self.missing: set = set()
        mocker.get(f"{base}/conversations", json=self._conversations)
        mocker.get(f"{base}/messages", json=self._messages)
        self.mocker = mocker

    @staticmethod
    def _page(key: str, items: List[Dict[str, Any]], request: Any, per_page: int) -> Dict[str, Any]:
        cursor = request.qs.get("cursor", [None])[0]
        offset = int(cursor[len("off-"):]) if cursor else 0
        chunk = items[offset:offset + per_page]
        more = offset + per_page < len(items)
        return {key: chunk, "count": len(items), "next_cursor": f"off-{offset + per_page}" if more else None}

    def _conversations(self, request: Any, context: Any) -> Dict[str, Any]:
        per_page = min(int(request.qs["per_page"][0]), self.page_size)
        return self._page("conversations", self.conversations, request, per_page)

    def _messages(self, request: Any, context: Any) -> Dict[str, Any]:
        cid = int(request.qs["conversation_id"][0])
        if cid in self.missing:
            context.status_code = 404
            return {"errors": {"json": "Conversation not found"}}
        per_page = min(int(request.qs["per_page"][0]), self.page_size)
        return self._page("messages", self.messages.get(cid, []), request, per_page)

    def requests(self, path: str) -> List[Any]:
        return [r for r in self.mocker.request_history if r.path.endswith(path)]


def catalog(*streams: str, mode: SyncMode = SyncMode.full_refresh):
    builder = CatalogBuilder()
    for name in streams:
        builder = builder.with_stream(name, mode)
    return builder.build()


def run_read(
    config: Mapping[str, Any],
    *streams: str,
    mode: SyncMode = SyncMode.full_refresh,
    state: Optional[List[AirbyteStateMessage]] = None,
    expecting_exception: bool = False,
    debug: bool = False,
) -> EntrypointOutput:
    configured = catalog(*streams, mode=mode)
    source = SourcePartoo(catalog=configured, config=config, state=state)
    return read(source, config, configured, state=state, expecting_exception=expecting_exception, debug=debug)


def run_discover(config: Mapping[str, Any]) -> EntrypointOutput:
    return discover(SourcePartoo(config=config), config)


def state_from(output: EntrypointOutput, stream: str) -> List[AirbyteStateMessage]:
    """The last state the connector emitted for `stream`, as the platform would pass it back."""
    return StateBuilder().with_stream_state(stream, last_state(output, stream)).build()


def last_state(output: EntrypointOutput, stream: str) -> Dict[str, Any]:
    states = [m.state for m in output.state_messages if m.state.stream.stream_descriptor.name == stream]
    return json.loads(json.dumps(states[-1].stream.stream_state.__dict__, default=lambda o: o.__dict__))


def handed_out(output: EntrypointOutput) -> List[int]:
    """The conversations whose messages a `debug=True` read handed to airbyte-cdk's workers, in that order:
    whatever the number of workers and however their requests interleave, which the order of the requests
    does not show (two workers often send a conversation's request after the next one's). With --debug,
    airbyte-cdk logs a partition's slice on its main thread as it submits the partition to the pool, in the
    order the partition router made them, and again when a worker starts it; the first log of each
    conversation is therefore its place in that order."""
    order: List[int] = []
    for message in output.logs:
        text = message.log.message
        if text.startswith("slice:"):
            conversation_id = (json.loads(text[len("slice:"):]) or {}).get("conversation_id")
            if conversation_id is not None and conversation_id not in order:
                order.append(conversation_id)
    return order


def record_ids(output: EntrypointOutput, stream: str) -> List[int]:
    return [m.record.data["id"] for m in output.records if m.record.stream == stream]


def all_output_lines(output: EntrypointOutput) -> List[str]:
    """Every message the connector printed, serialized as on stdout."""
    from airbyte_cdk.models import AirbyteMessageSerializer

    return [json.dumps(AirbyteMessageSerializer.dump(m)) for m in output.get_message_iterator()]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> List[float]:
    """A fake clock: time.sleep (backoff, Retry-After, the request budget) records the wait and moves
    the rate limiter's clock forward instead of sleeping, so tests never really sleep."""
    import pyrate_limiter.clocks

    calls: List[float] = []
    skipped = [0.0]
    real_time, real_monotonic = time.time, time.monotonic

    def fake_sleep(seconds: float) -> None:
        calls.append(seconds)
        skipped[0] += max(0.0, seconds)

    monkeypatch.setattr(time, "sleep", fake_sleep)
    monkeypatch.setattr(pyrate_limiter.clocks, "time", lambda: real_time() + skipped[0])
    monkeypatch.setattr(pyrate_limiter.clocks, "monotonic", lambda: real_monotonic() + skipped[0])
    return calls


@pytest.fixture
def partoo(requests_mock: Any, sleeps: List[float]) -> FakePartoo:
    return FakePartoo(requests_mock)


class CliResult:
    def __init__(self, exit_code: int, stdout: str, raised: Optional[BaseException] = None) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        # The AirbyteTracedException airbyte-cdk re-raised after printing its trace (the real CLI exits 1
        # on it), or None when the run ended normally or through sys.exit.
        self.raised = raised
        self.messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]

    @property
    def connection_status(self) -> Dict[str, Any]:
        return self.of_type("CONNECTION_STATUS")[-1]["connectionStatus"]


@pytest.fixture
def cli(tmp_path: Any, capsys: pytest.CaptureFixture) -> Callable[..., CliResult]:
    """Run the real entry point (`source-partoo ...`) in process, so requests-mock still applies."""
    from source_partoo.run import run

    def invoke(command: str, config: Optional[Mapping[str, Any]] = None, *extra: str) -> CliResult:
        args = [command]
        if config is not None:
            path = tmp_path / "config.json"
            path.write_text(json.dumps(config))
            args += ["--config", str(path)]
        args += list(extra)
        capsys.readouterr()
        code, raised = 0, None
        try:
            run(args)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except AirbyteTracedException as error:  # printed as a trace first; the real CLI exits 1 on it
            code, raised = 1, error
        # Any other exception is a crash: it propagates and fails the test.
        return CliResult(code, capsys.readouterr().out, raised)

    return invoke


@pytest.fixture
def checkpoint_clock(monkeypatch):
    """airbyte-cdk saves a substream's state at most once every 600 s of wall time; this clock moves
    ten minutes each time it is read, so every finished partition may be checkpointed at once."""
    import airbyte_cdk.sources.declarative.incremental.concurrent_partition_cursor as cursor_module

    ticks = itertools.count()
    monkeypatch.setattr(cursor_module, "time", SimpleNamespace(
        time=lambda: 1_700_000_000.0 + 601.0 * next(ticks), perf_counter_ns=time.perf_counter_ns))
