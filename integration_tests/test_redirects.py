"""The installed CLI against real sockets: a base_url that redirects to another host never hands it the key
(#15). Two stdlib servers on loopback: the first answers 302 to the second, which records what it receives."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, List, Tuple

import pytest

from .conftest import catalog

KEY = "redirect-me-not-0123456789"


class Server:
    """A loopback HTTP server answering every GET with `answer(path)`, recording each request's headers."""

    def __init__(self, answer) -> None:
        self.seen: List[Tuple[str, Dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append((self.path, dict(self.headers)))
                status, headers, body = answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def redirecting() -> Iterator[Tuple[Server, Server]]:
    """(the API that redirects, the other host): 127.0.0.1:A answers 302 to localhost:B, same path."""
    page = json.dumps({"conversations": [{"id": 1, "created_at": "2024-01-01 09:00:00+00:00"}],
                       "next_cursor": None}).encode()
    other = Server(lambda path: (200, {"Content-Type": "application/json"}, page))
    api = Server(lambda path: (302, {"Location": f"http://localhost:{other.port}{path}"}, b""))
    yield api, other
    api.stop()
    other.stop()


def test_check_and_read_refuse_a_redirect_to_another_host_which_never_sees_the_key(cli, redirecting):
    api, other = redirecting
    config = {"api_key": KEY, "base_url": f"http://127.0.0.1:{api.port}/v2"}
    sentence = (
        f"The API at http://127.0.0.1:{api.port} redirected to http://localhost:{other.port} (another host), where "
        "the connector never sends the API key, so it stopped: check base_url (or environment, when base_url is "
        "empty) and any proxy between the connector and Partoo."
    )

    check = cli("check", config, timeout=120)
    status = check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status == {"status": "FAILED", "message": sentence}

    read = cli("read", config, catalog=catalog("conversations"), timeout=120)
    assert read.returncode != 0
    first, *rest = read.errors
    assert (first["message"], first["failure_type"]) == (sentence, "config_error")
    # then airbyte-cdk's closing summary of the streams that failed
    assert [e["message"].split(": ")[0] for e in rest] == [
        "During the sync, the following streams did not sync successfully"]
    assert read.records("conversations") == []

    assert len(api.seen) == 2  # one request each, not retried
    assert all(headers.get("x-APIKey") == KEY for _, headers in api.seen)
    assert other.seen == []  # the other host got no request at all, let alone the key
    assert KEY not in check.stdout + check.stderr + read.stdout + read.stderr
