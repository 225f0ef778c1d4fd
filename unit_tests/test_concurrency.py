"""num_workers is the number of requests in flight: N workers reach N when Partoo is slow, never more.
A config saved with num_workers 1 (allowed up to 0.4.0, and able to hang a sync) runs with 2.

requests-mock sends one request at a time (it holds a global lock around every send), so these tests
serve the API from a small HTTP server on 127.0.0.1 instead. No test waits on a clock: each messages
request is held until N are in flight at once, which releases them all. The same bound is proved
against the emulator (integration_tests/test_cli_against_emulator.py), whose latency gives extra
workers the time to show up.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import conversation, make_config, message, record_ids, run_read

CONVERSATIONS = 40


class SlowPartoo:
    """/v2/conversations: one page of 40 conversations. /v2/messages: each request is held until
    `target` requests are in flight at once (or, if that never happens, 10 s have passed once)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.lock = threading.Lock()
        self.in_flight = self.most = 0
        self.reached = threading.Event()
        self.gave_up = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.endswith("/conversations"):
                    body = {"conversations": [conversation(c) for c in range(1, CONVERSATIONS + 1)], "next_cursor": None}
                else:
                    cid = int(parse_qs(parts.query)["conversation_id"][0])
                    body = owner.held({"messages": [message(cid * 100, cid, "2024-03-01 10:00:00.000000+00:00")],
                                       "next_cursor": None})
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def held(self, body: dict) -> dict:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.in_flight >= self.target:
                self.reached.set()
        try:
            if not self.gave_up and not self.reached.wait(timeout=10):
                self.gave_up = True  # fewer workers than asked: let the rest of the sync through
            return body
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def slow_partoo(request) -> Iterator[SlowPartoo]:
    server = SlowPartoo(request.param)
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.mark.parametrize("configured, slow_partoo", [(1, 2), (2, 2), (6, 6), (16, 16)], indirect=["slow_partoo"],
                         ids=["1-runs-as-2-workers", "2-workers", "6-workers", "16-workers"])
def test_n_workers_have_exactly_n_requests_in_flight(slow_partoo, sleeps, configured):
    workers = slow_partoo.target
    output = run_read(make_config(base_url=slow_partoo.url, num_workers=configured), "messages")
    assert sorted(record_ids(output, "messages")) == [c * 100 for c in range(1, CONVERSATIONS + 1)]
    assert not slow_partoo.gave_up, f"never {workers} requests in flight at once (at most {slow_partoo.most})"
    assert slow_partoo.most == workers
