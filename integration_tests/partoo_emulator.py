"""A local stand-in for Partoo's REST API v2 (GET /v2/conversations and GET /v2/messages).

Test and demo tooling only: it never ships in the connector image and the connector never imports it.
Standard library only, so it runs from any Python 3.11.

    python -m integration_tests.partoo_emulator --port 0 --conversations 3000

prints its base URL (http://127.0.0.1:PORT/v2) on the first line of stdout, then serves until stopped.

Data is deterministic for a given --seed: every conversation and message is computed from
(seed, conversation id, message index), so even 100,000 conversations cost little memory.

Faithful behaviour: x-APIKey (401 with Partoo's body), keys limited to some businesses (403 when a
request names another), per_page outside 1..100 -> 400, opaque cursors rejected (400) when reused with
other filters, business__in, a per-minute sliding-window limit answering 429 with Retry-After, latency,
and faults switched by flags. Control endpoints under /_emulator/ (no key needed):
  GET  /_emulator/stats            request counts, 429s sent, faults injected, peak concurrency
  POST /_emulator/reset_stats
  POST /_emulator/settings         JSON with any of latency_ms, fault_rate, faults, rate_limit
  POST /_emulator/add_messages     {"conversation_ids": [...], "count": 1}  new messages, newest dates
  POST /_emulator/add_conversation {"business_index": 0, "messages": 2}     returns {"id": ...}
  POST /_emulator/delete_conversation {"id": ...}                           its messages then 404
  GET  /_emulator/expected?stream=conversations|messages[&business__in=...]  every record, for tests
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import random
import socket
import sys
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Set
from urllib.parse import parse_qs, urlsplit

PARTNERS = ["Google", "Facebook", "Instagram", "SMS", "Whatsapp", "Custom", "Livechat"]
ISSUES = [
    "facebook_no_page_linked",
    "facebook_partner_co_undone",
    "facebook_invalid_status",
    "facebook_missing_webhook_subs",
    "instagram_no_account_linked",
    "sms_no_phone_number",
]
CITIES = [("Paris", "75002", "FR"), ("Lyon", "69001", "FR"), ("Madrid", "28001", "ES"), ("Milano", "20121", "IT")]
FAULT_KINDS = ["500", "502html", "drop", "truncate", "html200"]
EPOCH = dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc)
NEW_DATA_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def partoo_date(moment: dt.datetime) -> str:
    """Partoo's format: '2023-01-31 16:22:17.327878+00:00' (a space, microseconds, an offset)."""
    return moment.isoformat(sep=" ", timespec="microseconds")


class Dataset:
    """Deterministic conversations and messages, plus the mutations tests make at run time."""

    def __init__(self, seed: int, conversations: int, businesses: int, max_messages: int, drift: bool) -> None:
        self.seed = seed
        self.drift = drift
        self.max_messages = max_messages
        rng = random.Random(seed)
        self.business_ids = [f"{rng.getrandbits(96):024x}" for _ in range(businesses)]
        self.lock = threading.Lock()
        self.count = conversations
        self.extra_messages: Dict[int, List[dict]] = {}
        self.deleted: Set[int] = set()
        self.new_conversations: Dict[int, dict] = {}
        self.next_message_id = 10_000_000_000
        self.clock = NEW_DATA_EPOCH

    # -- generated data ------------------------------------------------------------------------
    def _rng(self, *parts: int) -> random.Random:
        return random.Random(hash((self.seed,) + parts))

    def _shape(self, cid: int) -> dict:
        rng = self._rng(cid)
        roll = rng.random()
        if roll < 0.08:
            n = 0
        elif roll < 0.11:
            n = rng.randint(min(201, self.max_messages), self.max_messages)  # several pages of messages
        else:
            n = rng.randint(1, min(40, self.max_messages))
        created = EPOCH + dt.timedelta(seconds=rng.randint(0, 800 * 86400), microseconds=rng.randint(0, 999_999))
        gap = rng.randint(30, 3600)
        return {"rng": rng, "n": n, "created": created, "gap": gap}

    def _message(self, cid: int, k: int, shape: dict, partner: str) -> dict:
        rng = self._rng(cid, k)
        date = shape["created"] + dt.timedelta(seconds=shape["gap"] * k, microseconds=rng.randint(0, 999_999))
        variant = (cid + k) % 11
        sender = "Consumer" if k % 2 == 0 else "User"
        if variant == 0:
            content_type, content = "Text", f"Bonjour, message {k} of conversation {cid}"
        elif variant == 1:
            content_type, content = "Image", f"https://cdn.example.com/img/{cid}/{k}.jpg"
        elif variant == 2:
            content_type, content = "Video", {"url": f"https://cdn.example.com/v/{cid}/{k}.mp4", "file_name": None}
        elif variant == 3:
            content_type, content = "Audio", {"url": f"https://cdn.example.com/a/{cid}/{k}.ogg", "file_name": "voice.ogg"}
        elif variant == 4:
            content_type, content = "Document", {"url": f"https://cdn.example.com/d/{cid}/{k}.pdf", "file_name": "menu.pdf"}
        elif variant == 5:
            content_type = "IgStoryReply"
            content = {"url": f"https://instagram.com/s/{cid}", "content": "Love it!", "content_type": "Text", "id": f"{cid}{k}"}
        elif variant == 6:
            content_type, content = "IgStoryMention", f"https://instagram.com/stories/{cid}/{k}"
        elif variant == 7:
            content_type, content = "Unsupported", {"type": ["video", "audio", "unknown"][k % 3]}
        elif variant == 8:
            content_type, content, sender = "Text", "Solving", "Metadata"
        elif variant == 9:
            content_type, content, sender = "Text", "Reopening", "Metadata"
        else:
            content_type, content = "Text", "Merci ! \u2615 \"quoted\" <b>not html</b>"
        if self.drift and k % 7 == 3:
            sender, content_type = "Bot", "Carousel"  # values Partoo may add without notice
            content = {"cards": [{"title": "New", "url": "https://example.com"}]}
        message = {
            "id": cid * 1000 + k,
            "conversation_id": cid,
            "date": partoo_date(date),
            "content_type": content_type,
            "sender_type": sender,
            "sender_label": None if sender != "User" else f"Agent {rng.randint(1, 9)}",
            "status": "Success" if rng.random() > 0.02 else "Failed",
            "is_deleted": partner == "Instagram" and rng.random() < 0.05,
            "is_automated": rng.random() < 0.1,
            "content": content,
            "user_id": f"{rng.getrandbits(96):024x}" if sender == "User" else None,
            "custom_channel": {"external_message_id": f"ext-{cid}-{k}"} if partner == "Custom" else None,
        }
        if self.drift and k % 5 == 1:
            message["reactions"] = ["thumbs_up"]  # a field Partoo may add
        return message

    def _base_conversation(self, cid: int) -> dict:
        shape = self._shape(cid)
        rng = shape["rng"]
        partner = PARTNERS[cid % len(PARTNERS)]
        if self.drift and cid % 13 == 0:
            partner = "Telegram"
        b = self.business_ids[cid % len(self.business_ids)]
        city, zipcode, country = CITIES[cid % len(CITIES)]
        conv = {
            "id": cid,
            "consumer_img": None if cid % 3 else f"https://cdn.example.com/u/{cid}.jpg",
            "consumer_name": ["John Doe", "John Doe (@johndoe)", "@johndoe", "", None][cid % 5],
            "consumer_phone_number": f"+336{cid:08d}" if partner in ("SMS", "Whatsapp") else None,
            "consumer_email": f"c{cid}@example.com" if partner == "Livechat" else None,
            "last_message": None,
            "is_read": rng.random() < 0.5,
            "status": "Open" if rng.random() < 0.6 else "Closed",
            "created_at": partoo_date(shape["created"]),
            "has_one_user_message": shape["n"] > 1,
            "business": {
                "id": b,
                "name": f"Boulangerie {cid % len(self.business_ids)}",
                "city": city,
                "zipcode": zipcode if cid % 17 else None,
                "country": country,
                "formatted_address": f"{cid % 90 + 1} rue de la Paix, {city}",
            },
            "messaging_partner": partner,
            "issues": [ISSUES[cid % len(ISSUES)]] if cid % 19 == 0 else [],
            "first_message_date": partoo_date(shape["created"]) if shape["n"] else None,
            "is_expired": rng.random() < 0.2,
            "is_solved": rng.random() < 0.3,
            "is_automated": rng.random() < 0.1,
            "assigned_user_id": f"{rng.getrandbits(96):024x}" if rng.random() < 0.4 else None,
            "custom_channel": (
                {"id": "cc1", "name": "Website", "icon": "https://example.com/i.png", "is_readonly": False,
                 "external_conversation_id": f"ext-{cid}"}
                if partner == "Custom" else None
            ),
        }
        if shape["n"]:
            conv["last_message"] = self._message(cid, shape["n"] - 1, shape, partner)
        return conv

    # -- the API's view ------------------------------------------------------------------------
    def conversation(self, cid: int) -> Optional[dict]:
        if cid in self.deleted:
            return None
        conv = self.new_conversations.get(cid) or self._base_conversation(cid)
        extra = self.extra_messages.get(cid)
        if extra:
            conv = dict(conv, last_message=extra[-1], has_one_user_message=True)
        return conv

    def conversation_ids(self) -> List[int]:
        return [c for c in range(1, self.count + 1) if c not in self.deleted] + [
            c for c in self.new_conversations if c not in self.deleted
        ]

    def messages(self, cid: int) -> Optional[List[dict]]:
        if cid in self.deleted:
            return None
        if cid in self.new_conversations:
            base: List[dict] = []
        elif 1 <= cid <= self.count:
            shape = self._shape(cid)
            partner = PARTNERS[cid % len(PARTNERS)]
            if self.drift and cid % 13 == 0:
                partner = "Telegram"
            base = [self._message(cid, k, shape, partner) for k in range(shape["n"])]
        else:
            return None
        return base + self.extra_messages.get(cid, [])

    def add_messages(self, cid: int, count: int) -> List[dict]:
        with self.lock:
            added = []
            for _ in range(count):
                self.clock += dt.timedelta(seconds=7, microseconds=123)
                self.next_message_id += 1
                added.append({
                    "id": self.next_message_id, "conversation_id": cid, "date": partoo_date(self.clock),
                    "content_type": "Text", "sender_type": "Consumer", "sender_label": None, "status": "Success",
                    "is_deleted": False, "is_automated": False, "content": f"new message {self.next_message_id}",
                    "user_id": None, "custom_channel": None,
                })
            self.extra_messages.setdefault(cid, []).extend(added)
            return added

    def add_conversation(self, business_index: int, messages: int) -> int:
        with self.lock:
            cid = self.count + len(self.new_conversations) + 1
            self.clock += dt.timedelta(seconds=3)
            self.new_conversations[cid] = {
                "id": cid, "consumer_img": None, "consumer_name": "New Customer", "consumer_phone_number": None,
                "consumer_email": None, "last_message": None, "is_read": False, "status": "Open",
                "created_at": partoo_date(self.clock), "has_one_user_message": False,
                "business": {"id": self.business_ids[business_index % len(self.business_ids)], "name": "New",
                             "city": None, "zipcode": None, "country": None, "formatted_address": None},
                "messaging_partner": "Livechat", "issues": [], "first_message_date": partoo_date(self.clock),
                "is_expired": False, "is_solved": False, "is_automated": False, "assigned_user_id": None,
                "custom_channel": None,
            }
        if messages:
            self.add_messages(cid, messages)
        return cid


class Emulator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.data = Dataset(args.seed, args.conversations, args.businesses, args.max_messages, args.drift)
        self.api_key = args.api_key
        self.limited_keys: Dict[str, Set[str]] = {}
        for spec in args.limited_key or []:
            key, _, indexes = spec.partition(":")
            allowed = {self.data.business_ids[int(i)] for i in indexes.split(",") if i != ""}
            self.limited_keys[key] = allowed
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
        self._ordered_cache: Dict[Any, List[int]] = {}

    # Conversations come newest activity first, like an inbox (the order is not documented).
    def ordered_ids(self, businesses: Optional[Set[str]]) -> List[int]:
        ids = []
        for cid in self.data.conversation_ids():
            conv = self.data.conversation(cid)
            if conv and (businesses is None or conv["business"]["id"] in businesses):
                ids.append((conv["last_message"]["date"] if conv["last_message"] else conv["created_at"], cid))
        ids.sort(reverse=True)
        return [cid for _, cid in ids]

    def ordered_ids_cached(self, businesses: Optional[Set[str]]) -> List[int]:
        key = (tuple(sorted(businesses)) if businesses else None, len(self.data.extra_messages),
               sum(len(v) for v in self.data.extra_messages.values()), len(self.data.new_conversations),
               len(self.data.deleted))
        with self.lock:
            cached = self._ordered_cache.get(key)
        if cached is None:
            cached = self.ordered_ids(businesses)
            with self.lock:
                self._ordered_cache = {key: cached}
        return cached

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
                    emu.max_in_flight = 0
                    emu.window.clear()
                return self._send(200, {"ok": True})
            if path == "/_emulator/settings":
                for name in ("latency_ms", "fault_rate", "rate_limit", "loop_cursor"):
                    if name in body:
                        setattr(emu, name, body[name])
                if "faults" in body:
                    emu.faults = [f for f in body["faults"].split(",") if f]
                return self._send(200, {"ok": True})
            if path == "/_emulator/add_messages":
                added = [m["id"] for cid in body["conversation_ids"] for m in emu.data.add_messages(int(cid), int(body.get("count", 1)))]
                return self._send(200, {"message_ids": added})
            if path == "/_emulator/add_conversation":
                cid = emu.data.add_conversation(int(body.get("business_index", 0)), int(body.get("messages", 1)))
                return self._send(200, {"id": cid})
            if path == "/_emulator/delete_conversation":
                emu.data.deleted.add(int(body["id"]))
                return self._send(200, {"ok": True})
            return self._send(404, {"errors": {"json": "Not found"}})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            if parts.path == "/_emulator/stats":
                with emu.lock:
                    stats = dict(emu.stats, max_concurrent=emu.max_in_flight)
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
            finally:
                with emu.lock:
                    emu.in_flight -= 1

        def _expected(self, query: Dict[str, str]) -> None:
            businesses = set(query["business__in"].split(",")) if query.get("business__in") else None
            ids = emu.ordered_ids(businesses)
            if query.get("stream") == "messages":
                records = [m for cid in ids for m in (emu.data.messages(cid) or [])]
            else:
                records = [emu.data.conversation(cid) for cid in ids]
            self._send(200, {"records": records})

        def _api(self, path: str, query: Dict[str, str]) -> None:
            key = self.headers.get("x-APIKey")
            wait = emu.rate_limited()  # counted on arrival, like a real server's limiter
            if emu.latency_ms:
                time.sleep(emu.latency_ms / 1000)
            if wait is not None:
                with emu.lock:
                    emu.stats["429"] += 1
                return self._send(429, {"errors": {"json": "Too many requests"}}, {"Retry-After": str(wait)})
            if key != emu.api_key and key not in emu.limited_keys:
                body = {"errors": {"authentication": "User not authenticated"}}
                if emu.echo_key:
                    body["errors"]["api_key"] = f"the key {key} is not valid"
                return self._send(401, body)
            fault = emu.pick_fault()
            if fault:
                with emu.lock:
                    emu.stats["fault " + fault] += 1
                return self._fault(fault)
            if path not in ("/v2/conversations", "/v2/messages"):
                return self._send(404, {"errors": {"json": "Not found"}})
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
                ids = emu.ordered_ids_cached(visible)
                return self._page("conversations", ids, per_page, query, filters, emu.data.conversation)
            try:
                cid = int(query.get("conversation_id", ""))
            except ValueError:
                return self._send(400, {"errors": {"json": {"conversation_id": "Missing or not an integer."}}})
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
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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


if __name__ == "__main__":
    serve(sys.argv[1:])
