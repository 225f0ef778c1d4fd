"""The emulator's HTTP server: keys, rate limit, latency, faults, cursors and the control endpoints,
shared by every API area."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import socket
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Set
from urllib.parse import parse_qs, urlsplit

import partoo_emulator
from partoo_emulator.areas import Areas, add_arguments
from partoo_emulator.messaging import Dataset
from partoo_emulator.pages import PRESENCE_ROWS

FAULT_KINDS = ["500", "502html", "drop", "truncate", "html200"]


class Emulator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.data = Dataset(args.seed, args.conversations, args.businesses, args.max_messages, args.drift)
        self.api_key = args.api_key
        self.limited_keys: Dict[str, Set[str]] = {}
        for spec in args.limited_key or []:
            key, _, indexes = spec.partition(":")
            allowed = {self.data.business_ids[int(i)] for i in indexes.split(",") if i != ""}
            self.limited_keys[key] = allowed
        self.areas = Areas(args, self.data.business_ids)  # every endpoint beyond Messages
        self.latency_ms = args.latency_ms
        self.rate_limit = args.rate_limit
        self.fault_rate = args.fault_rate
        self.faults = [f for f in args.faults.split(",") if f]
        self.fault_rng = random.Random(args.fault_seed)
        self.echo_key = args.echo_key_in_errors
        self.loop_cursor = args.loop_cursor
        self.lock = threading.Lock()
        self.window: deque = deque()
        self.stats: Counter = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.order = args.order
        self.messages_asked_for: Set[int] = set()  # the conversations whose messages were requested
        self.live_every = args.live_every
        self.live_requests = 0
        self.live_rng = random.Random(args.live_seed)

    def ordered_ids(self, businesses: Optional[Set[str]]) -> List[int]:
        """The conversation list in the --order it is served in (newest activity first by default)."""
        ids = self.data.ordered_ids(self.order)
        if businesses is None:
            return ids
        return [cid for cid in ids if self.data.business_of(cid) in businesses]

    def live_tick(self) -> None:
        """Live mode: one change to the inbox every `live_every` API requests, as a real inbox changes
        while a sync reads it: mostly a new message (in a quiet or a busy conversation), sometimes a new
        conversation or a deleted one."""
        if not self.live_every:
            return
        with self.lock:
            self.live_requests += 1
            if self.live_requests % self.live_every:
                return
            roll = self.live_rng.random()
            pick = self.live_rng.random()
        ids = self.data.ordered_ids("newest")
        if not ids:
            return
        if roll < 0.75:
            # Half of the messages go to the most active tenth of the inbox, half anywhere.
            pool = ids[: max(1, len(ids) // 10)] if roll < 0.375 else ids
            cid = pool[int(pick * len(pool))]
            self.data.add_messages(cid, 1)
            change = "message"
        elif roll < 0.9:
            self.data.add_conversation(int(pick * 1000), 1 + int(pick * 3))
            change = "conversation"
        else:
            self.data.delete(ids[int(pick * len(ids))])
            change = "deletion"
        with self.lock:
            self.stats["live " + change] += 1

    def rate_limited(self) -> Optional[int]:
        """Seconds to wait when over the per-minute limit (sliding window), else None (and count it)."""
        if not self.rate_limit:
            return None
        now = time.monotonic()
        with self.lock:
            while self.window and now - self.window[0] >= 60:
                self.window.popleft()
            if len(self.window) >= self.rate_limit:
                return max(1, int(60 - (now - self.window[0])) + 1)
            self.window.append(now)
        return None

    def pick_fault(self) -> Optional[str]:
        if not self.fault_rate or not self.faults:
            return None
        with self.lock:
            if self.fault_rng.random() < self.fault_rate:
                return self.fault_rng.choice(self.faults)
        return None


def encode_cursor(offset: int, filters: str) -> str:
    raw = json.dumps({"o": offset, "f": filters}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Optional[dict]:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return None


def make_handler(emu: Emulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "PartooEmulator/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
            pass

        def _send(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None, raw: Optional[bytes] = None) -> None:
            payload = raw if raw is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if raw is None else "text/html")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        # -- control endpoints -------------------------------------------------------------------
        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if path == "/_emulator/reset_stats":
                with emu.lock:
                    emu.stats.clear()
                    emu.messages_asked_for.clear()
                    emu.max_in_flight = 0
                    emu.window.clear()
                return self._send(200, {"ok": True})
            if path == "/_emulator/settings":
                for name in ("latency_ms", "fault_rate", "rate_limit", "loop_cursor", "order", "live_every"):
                    if name in body:
                        setattr(emu, name, body[name])
                if "faults" in body:
                    emu.faults = [f for f in body["faults"].split(",") if f]
                for name in ("ignore_per_page", "stuck_page", "growing_max_page"):
                    if name in body:
                        setattr(emu.areas.settings, name, bool(body[name]))
                if "presence_rows" in body:
                    if body["presence_rows"] not in PRESENCE_ROWS:
                        return self._send(400, {"errors": {"json": {"presence_rows": f"One of {', '.join(PRESENCE_ROWS)}."}}})
                    emu.areas.settings.presence_rows = body["presence_rows"]
                return self._send(200, {"ok": True})
            if path == "/_emulator/add_messages":
                added = [m["id"] for cid in body["conversation_ids"] for m in emu.data.add_messages(int(cid), int(body.get("count", 1)))]
                return self._send(200, {"message_ids": added})
            if path == "/_emulator/add_conversation":
                cid = emu.data.add_conversation(int(body.get("business_index", 0)), int(body.get("messages", 1)))
                return self._send(200, {"id": cid})
            if path == "/_emulator/delete_conversation":
                emu.data.delete(int(body["id"]))
                return self._send(200, {"ok": True})
            changed = emu.areas.control(path.rsplit("/", 1)[-1], body) if path.startswith("/_emulator/") else None
            if changed is not None:
                return self._send(200, changed)
            return self._send(404, {"errors": {"json": "Not found"}})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            if parts.path == "/_emulator/stats":
                with emu.lock:
                    stats = dict(emu.stats, max_concurrent=emu.max_in_flight,
                                 messages_asked_for=sorted(emu.messages_asked_for))
                return self._send(200, stats)
            if parts.path == "/_emulator/expected":
                return self._expected(query)
            with emu.lock:
                emu.in_flight += 1
                emu.max_in_flight = max(emu.max_in_flight, emu.in_flight)
                emu.stats["requests"] += 1
                emu.stats["requests " + parts.path] += 1
            try:
                self._api(parts.path, query)
                emu.live_tick()
            finally:
                with emu.lock:
                    emu.in_flight -= 1

        def _expected(self, query: Dict[str, str]) -> None:
            records = emu.areas.expected(query.get("stream", ""), query)
            if records is not None:
                return self._send(200, {"records": records})
            businesses = set(query["business__in"].split(",")) if query.get("business__in") else None
            ids = emu.ordered_ids(businesses)
            if query.get("stream") == "messages":
                records = [m for cid in ids for m in (emu.data.messages(cid) or [])]
            else:
                records = [emu.data.conversation(cid) for cid in ids]
            self._send(200, {"records": records, "deleted": sorted(emu.data.deleted)})

        def _api(self, path: str, query: Dict[str, str]) -> None:
            key = self.headers.get("x-APIKey")
            wait = emu.rate_limited()  # counted on arrival, like a real server's limiter
            if emu.latency_ms:
                time.sleep(emu.latency_ms / 1000)
            if wait is not None:
                with emu.lock:
                    emu.stats["429"] += 1
                return self._send(429, {"errors": {"json": "Too many requests"}}, {"Retry-After": str(wait)})
            if key != emu.api_key and key not in emu.limited_keys and key not in emu.areas.keys():
                body = {"errors": {"authentication": "User not authenticated"}}
                if emu.echo_key:
                    body["errors"]["api_key"] = f"the key {key} is not valid"
                return self._send(401, body)
            fault = emu.pick_fault()
            if fault:
                with emu.lock:
                    emu.stats["fault " + fault] += 1
                    emu.stats["faulted " + path] += 1
                return self._fault(fault)
            caller = emu.areas.caller(key, emu.limited_keys.get(key))
            if path not in ("/v2/conversations", "/v2/messages"):
                answer = emu.areas.handle(path, query, caller)
                return self._send(*answer) if answer is not None else self._send(404, {"errors": {"json": "Not found"}})
            if "messages" in caller.missing_products:
                return self._send(403, {"errors": {"authorization": "Operation not allowed"}})
            try:
                per_page = int(query.get("per_page", "30"))
            except ValueError:
                per_page = -1
            if not 1 <= per_page <= 100:
                return self._send(400, {"errors": {"json": {"per_page": "Must be between 1 and 100."}}})
            allowed = emu.limited_keys.get(key)  # None: the whole organization
            if path == "/v2/conversations":
                requested = set(query["business__in"].split(",")) if query.get("business__in") else None
                if allowed is not None and requested is not None and not requested <= allowed:
                    return self._send(403, {"errors": {"authorization": "Operation not allowed"}})
                visible = requested if requested is not None else allowed
                filters = hashlib.sha1(json.dumps(sorted(visible) if visible else None).encode()).hexdigest()[:12]
                ids = emu.ordered_ids(visible)  # the dataset caches the order until the next change
                return self._page("conversations", ids, per_page, query, filters, emu.data.conversation)
            try:
                cid = int(query.get("conversation_id", ""))
            except ValueError:
                return self._send(400, {"errors": {"json": {"conversation_id": "Missing or not an integer."}}})
            with emu.lock:
                emu.messages_asked_for.add(cid)
            conv = emu.data.conversation(cid)
            messages = emu.data.messages(cid)
            if conv is None or messages is None:
                return self._send(404, {"errors": {"json": "Conversation not found"}})
            if allowed is not None and conv["business"]["id"] not in allowed:
                return self._send(403, {"errors": {"authorization": "Operation not allowed"}})
            by_index = dict(enumerate(messages))
            return self._page("messages", list(range(len(messages))), per_page, query, f"c{cid}", by_index.get)

        def _page(self, key: str, ids: List[int], per_page: int, query: Dict[str, str], filters: str, get) -> None:
            offset = 0
            if query.get("cursor"):
                cursor = decode_cursor(query["cursor"])
                if not cursor or cursor.get("f") != filters:
                    return self._send(400, {"errors": {"json": {"cursor": "Invalid cursor for these filters."}}})
                offset = int(cursor["o"])
            chunk = ids[offset:offset + per_page]
            records = [r for r in (get(i) for i in chunk) if r is not None]
            more = offset + per_page < len(ids)
            next_cursor = encode_cursor(offset + per_page, filters) if more else None
            if emu.loop_cursor and more and query.get("cursor"):
                next_cursor = query["cursor"]  # a stuck cursor: hands back the one it was given
            self._send(200, {key: records, "count": len(ids), "next_cursor": next_cursor})

        def _fault(self, fault: str) -> None:
            if fault == "500":
                return self._send(500, {"errors": {"json": "Internal server error"}})
            if fault == "502html":
                return self._send(502, None, raw=b"<html><body><h1>502 Bad Gateway</h1></body></html>")
            if fault == "html200":
                return self._send(200, None, raw=b"<html><body>Maintenance</body></html>")
            if fault == "truncate":
                payload = b'{"conversations": [{"id": 1, "consumer_name": "Jo'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return None
            # "drop": close the connection without any response
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None

    return Handler


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m partoo_emulator", description=partoo_emulator.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--conversations", type=int, default=3000)
    p.add_argument("--businesses", type=int, default=6)
    p.add_argument("--max-messages", type=int, default=260, help="upper bound for the longest conversations")
    p.add_argument("--api-key", default="demo-key", help="a key that sees the whole organization")
    p.add_argument("--limited-key", action="append", metavar="KEY:I,J", help="a key limited to businesses I,J (indexes)")
    p.add_argument("--rate-limit", type=int, default=0, help="requests per minute (0: unlimited)")
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--fault-rate", type=float, default=0.0, help="probability that a request gets a fault")
    p.add_argument("--faults", default=",".join(FAULT_KINDS), help="comma-separated: " + ",".join(FAULT_KINDS))
    p.add_argument("--fault-seed", type=int, default=7)
    p.add_argument("--drift", action="store_true", help="unknown enum values, new fields, changed types")
    p.add_argument("--echo-key-in-errors", action="store_true", help="401 bodies quote the key sent")
    p.add_argument("--loop-cursor", action="store_true", help="from page 2 on, next_cursor repeats the cursor sent")
    p.add_argument("--order", choices=["newest", "oldest", "shuffled"], default="newest",
                   help="the conversation list's order: newest activity first (an inbox), oldest first, shuffled")
    p.add_argument("--live-every", type=int, default=0, metavar="N",
                   help="live inbox: one change (new message, new conversation, deletion) every N API requests")
    p.add_argument("--live-seed", type=int, default=11)
    add_arguments(p)
    return p


def serve(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    emu = Emulator(args)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(emu))
    server.daemon_threads = True
    server.request_queue_size = 128
    print(f"http://{args.host}:{server.server_address[1]}/v2", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass

