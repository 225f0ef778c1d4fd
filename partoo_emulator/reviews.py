"""Reviews (GET /reviews) and the replies inside them: ISO dates with an offset, update_date__gte on naive
UTC, replies as one object, an array or null (with nested replies), deleted and restored reviews.

Readings of what the docs leave open, chosen to be the hardest for a client:
- without state__in, deleted reviews are not listed;
- a review without update_date matches update_date__gte on its date;
- deleting or restoring a review moves its update_date; a new reply does too, unless told otherwise
  (POST /_emulator/add_reply {"bump": false}).
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from typing import Any, Dict, List, Optional

from partoo_emulator.pages import FORBIDDEN, Answer, Caller, Clock, PageSettings, search_page

PARTNERS = ["google_my_business", "google_my_business", "facebook", "tripadvisor"]
PARIS_SUMMER = dt.timezone(dt.timedelta(hours=2))
PARIS_WINTER = dt.timezone(dt.timedelta(hours=1))
EPOCH = dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc)
DEFAULT_STATES = {"treated", "not_treated", "pending_auto_reply", "treated_auto_reply"}


def iso(moment: dt.datetime, tz: dt.timezone = PARIS_SUMMER) -> str:
    """Partoo's review dates: '2017-08-01T19:15:54.256000+02:00'."""
    return moment.astimezone(tz).isoformat(timespec="microseconds")


def as_utc(value: Optional[str]) -> Optional[dt.datetime]:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def replies_of(review: dict) -> List[dict]:
    """Every reply of a review, nested ones included, without their nested `replies`."""
    out: List[dict] = []
    pending = [review.get("comments")]
    while pending:
        node = pending.pop(0)
        for reply in node if isinstance(node, list) else [node]:
            if isinstance(reply, dict):
                out.append({k: v for k, v in reply.items() if k != "replies"})
                if reply.get("replies"):
                    pending.append(reply["replies"])
    return out


class Reviews:
    def __init__(self, seed: int, count: int, business_ids: List[str], clock: Clock,
                 until: Optional[dt.date] = None) -> None:
        self.seed = seed
        # The reviews' dates span 900 days from EPOCH, or up to `until` (--reviews-until): tests of the
        # analytics, whose windows end at the real today, need reviews in the last days.
        self.epoch = EPOCH if until is None else dt.datetime.combine(until, dt.time(), dt.timezone.utc) - dt.timedelta(days=920)
        self.business_ids = business_ids
        self.clock = clock
        self.lock = threading.Lock()
        self.reviews: Dict[int, dict] = {rid: self._review(rid) for rid in range(1, count + 1)}
        self.next_id = count + 1
        self.next_reply_id = 10_000_000
        self.version = 0  # bumped by every change, for the analytics' cache

    def _reply(self, rid: int, cid: int, when: dt.datetime, parent: Optional[int], shape: str, user: bool) -> dict:
        reply = {
            "id": cid, "partner_id": f"r-{cid}", "created": iso(when), "author_name": "Boulangerie" if user else "Jo",
            "content": f"Merci pour votre avis ({cid})", "date": iso(when), "can_edit": False,
            "review_id": rid, "parent_id": parent,
        }
        if shape != "2021":  # the 2021 Comment had neither update_date, user_id, is_reply_suggestion nor replies
            reply.update({"update_date": iso(when + dt.timedelta(minutes=5)), "user_id": "5309c3a237bbc544d8e26737" if user else None,
                          "is_reply_suggestion": cid % 7 == 0, "replies": []})
        return reply

    def _review(self, rid: int) -> dict:
        rng = random.Random(f"{self.seed}-review-{rid}")
        business = self.business_ids[rid % len(self.business_ids)]
        partner = PARTNERS[rid % len(PARTNERS)]
        tz = PARIS_SUMMER if rid % 2 else PARIS_WINTER
        date = self.epoch + dt.timedelta(seconds=rng.randint(0, 900 * 86400), microseconds=rng.randint(0, 999_999))
        update = date + dt.timedelta(seconds=rng.randint(0, 20 * 86400))
        replied = date + dt.timedelta(hours=rng.randint(1, 48))
        shape = rid % 5
        if shape == 0:
            comments: Any = None
        elif shape == 1:  # one object, as documented, with a nested reply
            comments = self._reply(rid, rid * 10, replied, None, "current", True)
            comments["replies"] = [self._reply(rid, rid * 10 + 5, replied + dt.timedelta(hours=2), rid * 10, "current", False)]
        elif shape == 2:  # an array
            comments = [self._reply(rid, rid * 10, replied, None, "current", True),
                        self._reply(rid, rid * 10 + 1, replied + dt.timedelta(hours=1), None, "current", True)]
        elif shape == 3:  # one object shaped like the 2021 schema
            comments = self._reply(rid, rid * 10, replied, None, "2021", True)
        else:
            comments = []
        state = "treated" if comments else "not_treated"
        if rid % 29 == 0:
            state = "pending_auto_reply"
        deleted = rid % 17 == 0
        review = {
            "key": f"{partner}-{rid}", "org_id": 42, "id": rid, "business_id": business, "partner": partner,
            "partner_id": f"p{rng.getrandbits(40):x}", "author_name": ["Marie", "Jean", "Ana", None][rid % 4],
            "date": iso(date, tz), "update_date": None if rid % 23 == 0 else iso(update, tz),
            "delete_date": iso(update, tz) if deleted else None,
            "rating": None if partner == "facebook" else 1 + rid % 5,
            "recommended": (rid % 3 != 0) if partner == "facebook" else None,
            "title": None if rid % 4 else "Super", "content": None if rid % 9 == 0 else f"Review {rid}: très bon pain",
            "state": "deleted" if deleted else state, "link": f"https://example.com/reviews/{rid}",
            "comments": comments, "tags": [{"id": 25, "label": "food", "color": "#808080"}] if rid % 6 == 0 else [],
            "media_links": [],
        }
        return review

    # -- the API's view ----------------------------------------------------------------------------
    def all(self) -> List[dict]:
        with self.lock:
            return [copy.deepcopy(self.reviews[k]) for k in sorted(self.reviews)]

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path != "/v2/reviews":
            return None
        visible, ok = caller.scope(query, "review_management", "BUSINESS_MANAGER")
        if not ok:
            return FORBIDDEN
        try:
            since = as_utc(query.get("update_date__gte"))
            until = as_utc(query.get("update_date__lte"))
        except ValueError:
            return 400, {"errors": {"json": {"update_date__gte": "Not a valid datetime."}}}
        states = set(query["state__in"].split(",")) if query.get("state__in") else DEFAULT_STATES
        with self.lock:  # copies only the page it answers: a copy of every review per page cost seconds at 6,000
            items = []
            for review in (self.reviews[k] for k in sorted(self.reviews)):
                updated = as_utc(review["update_date"] or review["date"])
                if review["state"] not in states or (visible is not None and review["business_id"] not in visible):
                    continue
                if (since is not None and updated < since) or (until is not None and updated > until):
                    continue
                items.append(review)
            return copy.deepcopy(search_page("reviews", items, query, settings))

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        wanted = set(query["business__in"].split(",")) if query.get("business__in") else None
        reviews = [r for r in self.all() if wanted is None or r["business_id"] in wanted]
        if stream == "reviews":
            return reviews
        if stream == "review_replies":
            return [dict(reply, business_id=r["business_id"],
                         review_update_date_utc=as_utc(r["update_date"] or r["date"]).isoformat(timespec="microseconds"))
                    for r in reviews for reply in replies_of(r)]
        return None

    # -- changes made at run time ------------------------------------------------------------------
    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        if action == "add_reply":
            return self.add_reply(int(body["review_id"]), bool(body.get("bump", True)))
        if action == "delete_review":
            return self.set_deleted(int(body["id"]), True)
        if action == "restore_review":
            return self.set_deleted(int(body["id"]), False)
        if action == "add_review":
            return self.add_review(int(body.get("business_index", 0)), float(body.get("late_hours", 0)))
        return None

    def add_reply(self, rid: int, bump: bool) -> dict:
        now = self.clock.tick()
        with self.lock:
            review = self.reviews[rid]
            self.next_reply_id += 1
            reply = self._reply(rid, self.next_reply_id, now, None, "current", True)
            comments = review["comments"]
            if not comments:
                review["comments"] = reply
            elif isinstance(comments, dict):
                review["comments"] = [comments, reply]
            else:
                comments.append(reply)
            self.version += 1
            if bump:
                review["update_date"] = iso(now)
                if review["state"] == "not_treated":
                    review["state"] = "treated"
        return {"id": reply["id"], "review_id": rid}

    def set_deleted(self, rid: int, deleted: bool) -> dict:
        now = self.clock.tick()
        with self.lock:
            review = self.reviews[rid]
            self.version += 1
            review["state"] = "deleted" if deleted else ("treated" if review["comments"] else "not_treated")
            review["delete_date"] = iso(now) if deleted else None
            review["update_date"] = iso(now)
        return {"id": rid, "state": review["state"]}

    def add_review(self, business_index: int, late_hours: float) -> dict:
        """A review Partoo receives now, whose own date and update_date are `late_hours` old."""
        when = self.clock.tick() - dt.timedelta(hours=late_hours)
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            self.version += 1
            self.reviews[rid] = {
                "key": f"google_my_business-{rid}", "org_id": 42, "id": rid,
                "business_id": self.business_ids[business_index % len(self.business_ids)],
                "partner": "google_my_business", "partner_id": f"late{rid}", "author_name": "Late",
                "date": iso(when), "update_date": iso(when), "delete_date": None, "rating": 4, "recommended": None,
                "title": None, "content": "Arrived late", "state": "not_treated",
                "link": f"https://example.com/reviews/{rid}", "comments": None, "tags": [], "media_links": [],
            }
        return {"id": rid, "update_date": iso(when)}
