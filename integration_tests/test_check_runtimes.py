"""check and the key, in both runtimes (`connector` runs each test through `source-partoo` and through
`source-declarative-manifest` with components.py): the key reaches the API's origin only (#23), check answers
at the first server failure (#23), an organization without Messages sets up the source and syncs the rest (#25),
and nothing a server does puts the key in the output (test_cli_against_emulator.py)."""

from __future__ import annotations

import json
from typing import Dict, Iterator, Tuple

import pytest

from .conftest import ALL_STREAMS, catalog
from .conftest import Server

KEY = "never-print-me-0123456789"


def status_of(run) -> Dict[str, str]:
    return run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]


def warnings_of(run):
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


CONVERSATIONS = json.dumps({"conversations": [{"id": 1, "created_at": "2024-01-01 09:00:00.000000+00:00",
                                               "last_message": None}], "count": 1, "next_cursor": None}).encode()
MESSAGES = json.dumps({"messages": [{"id": 10, "conversation_id": 1, "date": "2024-01-01 09:00:00.000000+00:00"}],
                       "count": 1, "next_cursor": None}).encode()


@pytest.fixture
def redirects_all_but_the_inbox() -> Iterator[Tuple[Server, Server]]:
    """(the API, another host): the API serves the conversation list and messages itself, and redirects every
    other endpoint to the other host, which answers whatever it is asked."""
    other = Server(lambda path: (200, {"Content-Type": "application/json"},
                                 json.dumps({"businesses": [{"id": "b1"}], "page": 1, "max_page": 1}).encode()))

    def answer(path: str):
        if path.startswith("/v2/conversations"):
            return 200, {"Content-Type": "application/json"}, CONVERSATIONS
        if path.startswith("/v2/messages"):
            return 200, {"Content-Type": "application/json"}, MESSAGES
        return 302, {"Location": f"http://localhost:{other.port}{path}"}, b""

    api = Server(answer)
    yield api, other
    api.stop()
    other.stop()


def test_check_and_a_read_of_every_stream_never_send_the_key_to_another_host(connector, redirects_all_but_the_inbox):
    api, other = redirects_all_but_the_inbox
    config = {"api_key": KEY, "base_url": f"http://127.0.0.1:{api.port}/v2"}
    sentence = (f"The API at http://127.0.0.1:{api.port} redirected to http://localhost:{other.port} (another host), "
                "where the connector never sends the API key, so it stopped: check base_url")

    check = connector("check", config, timeout=120)
    assert status_of(check)["status"] == "FAILED"
    assert sentence in status_of(check)["message"]

    read = connector("read", config, catalog=catalog(*ALL_STREAMS), timeout=180)
    assert read.returncode != 0
    assert [r["id"] for r in read.records("conversations")] == [1]
    assert [r["id"] for r in read.records("messages")] == [10]
    assert any(e["message"].startswith(sentence) and e["failure_type"] == "config_error" for e in read.errors)
    for stream in ALL_STREAMS[2:]:
        assert read.records(stream) == [], stream  # nothing from the other host is loaded

    assert other.seen == []  # the other host got no request at all, let alone the key
    assert KEY not in check.stdout + check.stderr + read.stdout + read.stderr


def test_check_answers_at_once_when_the_server_fails_everything(connector):
    failing = Server(lambda path: (500, {"Content-Type": "application/json"}, b'{"errors": {"json": "boom"}}'))
    try:
        check = connector("check", {"api_key": KEY, "base_url": f"http://127.0.0.1:{failing.port}/v2"}, timeout=60)
    finally:
        failing.stop()
    status = status_of(check)
    assert status["status"] == "FAILED"
    assert f"Partoo's server http://127.0.0.1:{failing.port} is failing (HTTP 500)" in status["message"]
    assert len(failing.seen) == 1  # one attempt: no backoff while a person waits


@pytest.fixture(scope="module")
def no_messages():
    """An organization without Partoo's Messages product: 403 on /conversations and /messages only."""
    from .conftest import Emulator

    running = Emulator("--conversations", "20", "--businesses", "2", "--reviews", "30",
                       "--key-without-product", "no-messages-key:messages")
    yield running
    running.stop()


def test_an_organization_without_messages_sets_up_the_source_and_syncs_every_other_stream(connector, no_messages):
    config = no_messages.config(api_key="no-messages-key")
    check = connector("check", config)
    assert status_of(check) == {"status": "SUCCEEDED"}
    assert any("refused access to conversations (HTTP 403)" in w and "Messages product" in w for w in warnings_of(check))

    first = connector("read", config, catalog=catalog(*ALL_STREAMS, mode="incremental"))
    assert first.returncode == 0, first.stdout[-2000:]
    assert first.errors == []
    assert first.records("conversations") == first.records("messages") == []
    for stream in ALL_STREAMS[2:]:
        assert first.records(stream), stream
    assert any("conversations and messages streams are skipped" in w for w in warnings_of(first))

    second = connector("read", config, catalog=catalog(*ALL_STREAMS, mode="incremental"), state=first.last_states())
    assert second.returncode == 0 and second.errors == []
    assert second.records("conversations") == []
