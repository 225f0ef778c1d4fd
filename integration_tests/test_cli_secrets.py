"""A server that quotes the API key in its error bodies: the key never reaches the output.

The installed CLI, as a subprocess, against the local Partoo emulator; tests that take `connector` run through
both runtimes (conftest.py). Its own module so that pytest-xdist (`--dist loadscope`) can run it beside the
other CLI tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from .conftest import catalog

BOTH = ("conversations", "messages")


class KeyQuotingServer:
    """A server on 127.0.0.1 whose error bodies quote the API key it received, as some servers do.

    4xx: every request gets `status`. 500: the first request only (the connector retries a 500, really
    waiting), then an empty last page.
    """

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests += 1
                key = self.headers.get("x-APIKey")
                if owner.status < 500 or owner.requests == 1:
                    status, body = owner.status, {"errors": {"json": f"the key {key} may not do this"}}
                else:
                    status, body = 200, {"conversations": [], "next_cursor": None}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if status == 500:
                    self.send_header("Retry-After", "1")  # a short wait rather than the backoff's seconds
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def quoting_server(request) -> Iterator[KeyQuotingServer]:
    server = KeyQuotingServer(request.param)
    yield server
    server.stop()


# Without the manifest's mask the 400 cases fail: the connector's 400 message quotes Partoo's words, which
# airbyte-cdk prints unmasked (the read's error trace, the check's connection status). 401, 403 and 500
# messages never quote the body (unit_tests/test_secrets.py has them all).
@pytest.mark.parametrize("quoting_server", [400, 500], indirect=True)
@pytest.mark.parametrize("command", ["check", "read"])
def test_a_key_quoted_in_an_error_body_never_reaches_the_output(connector, quoting_server, command):
    key = "quoted-key-0123456789"
    config = {"api_key": key, "base_url": quoting_server.url}
    run = connector(command, config, catalog=catalog(*BOTH) if command == "read" else None, timeout=120)
    assert quoting_server.requests >= 1  # the server did answer with the key in its body
    if quoting_server.status != 500:  # (a retried 500's body is not printed at all)
        assert "****" in run.stdout  # the key was there to mask: masked, the message around it kept
    assert key not in run.stdout + run.stderr
