"""Partoo Messages: the conversations and messages the emulator serves (GET /v2/conversations,
GET /v2/messages), deterministic for a seed, plus the mutations tests make at run time."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Dict, List, Optional, Set

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
        # Every conversation's last activity (its last message's date, else its creation), the list's
        # sort key: built once, then kept up to date by the mutations, so that a live list of tens of
        # thousands of conversations costs a sort, not a rebuild, per change.
        self._activity: Optional[Dict[int, str]] = None
        self.version = 0  # bumped by every mutation
        self._order_cache: Dict[str, tuple] = {}

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

    def business_of(self, cid: int) -> str:
        new = self.new_conversations.get(cid)
        return new["business"]["id"] if new else self.business_ids[cid % len(self.business_ids)]

    def activity(self) -> Dict[int, str]:
        """The last activity of every conversation that exists."""
        with self.lock:
            if self._activity is None:
                activity = {}
                for cid in self.conversation_ids():
                    conv = self.conversation(cid)
                    if conv is not None:
                        activity[cid] = conv["last_message"]["date"] if conv["last_message"] else conv["created_at"]
                self._activity = activity
            return self._activity

    def ordered_ids(self, order: str) -> List[int]:
        """The list's order: "newest" activity first (an inbox), "oldest" first, or "shuffled" (a fixed
        pseudo-random position per conversation, which activity never changes)."""
        activity = self.activity()
        with self.lock:
            cached = self._order_cache.get(order)
            if cached and cached[0] == self.version:
                return cached[1]
            if order == "shuffled":
                ids = sorted(activity, key=lambda cid: (hash((self.seed, 7919, cid)), cid))
            else:
                ids = sorted(activity, key=lambda cid: (activity[cid], cid), reverse=order != "oldest")
            self._order_cache[order] = (self.version, ids)
            return ids

    def _now(self) -> dt.datetime:
        """New data is dated now (never before the last new date), like Partoo's."""
        self.clock = max(dt.datetime.now(dt.timezone.utc), self.clock + dt.timedelta(microseconds=1))
        return self.clock

    def _touched(self, cid: int, date: str) -> None:
        if self._activity is not None:
            self._activity[cid] = date
        self.version += 1

    def delete(self, cid: int) -> None:
        with self.lock:
            self.deleted.add(cid)
            if self._activity is not None:
                self._activity.pop(cid, None)
            self.version += 1

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
                self._now()
                self.next_message_id += 1
                added.append({
                    "id": self.next_message_id, "conversation_id": cid, "date": partoo_date(self.clock),
                    "content_type": "Text", "sender_type": "Consumer", "sender_label": None, "status": "Success",
                    "is_deleted": False, "is_automated": False, "content": f"new message {self.next_message_id}",
                    "user_id": None, "custom_channel": None,
                })
            self.extra_messages.setdefault(cid, []).extend(added)
            if added and cid not in self.deleted:
                self._touched(cid, added[-1]["date"])
            return added

    def add_conversation(self, business_index: int, messages: int) -> int:
        with self.lock:
            cid = self.count + len(self.new_conversations) + 1
            self._now()
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
            self._touched(cid, self.new_conversations[cid]["created_at"])
        if messages:
            self.add_messages(cid, messages)
        return cid
