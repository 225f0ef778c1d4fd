"""Posts (GET /posts): Google and Facebook posts of the businesses, as the openapi `Post` schema.

Readings of what the docs leave open, chosen to be the hardest for a client:
- newest first (the order is not documented): a post added while the list is paged shifts every page;
- `post_type` has the documented news, event, offer, covid, and `alert` (the topic_type filter's name for
  it) that the Post schema does not list;
- posts imported from Google are hard-deleted when their business is disconnected from Google
  (POST /_emulator/delete_posts_of_business): absence is the only sign;
- posts made for several businesses at once share a `bulk_id` (null otherwise);
- Google insights are gone (since 2023-02-20): `post_insight` holds Facebook's only, or nothing;
- no filter on update time; filters other than business__in are ignored.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any, Dict, List, Optional

from partoo_emulator.pages import FORBIDDEN, Answer, Caller, Clock, PageSettings, comma_list, search_page
from partoo_emulator.reviews import EPOCH, PARIS_SUMMER, PARIS_WINTER, iso

POST_TYPES = ["news", "news", "event", "offer", "news", "covid", "alert"]
STATES = ["live", "live", "live", "expired", "error", "scheduled", "to_validate", "pending"]
CTA = ["LEARN_MORE", "BOOK", "ORDER", "CALL", None]
BULK_SIZE = 3  # every eighth post starts a bulk post of three businesses


class Posts:
    def __init__(self, seed: int, count: int, business_ids: List[str], clock: Clock) -> None:
        self.seed = seed
        self.business_ids = business_ids
        self.clock = clock
        self.lock = threading.Lock()
        self.posts: Dict[int, dict] = {}
        for index in range(count):
            post = self._post(index)
            self.posts[post["id"]] = post
        self.next_id = 500_000 + count

    def _post(self, index: int, business: Optional[str] = None, when: Optional[dt.datetime] = None) -> dict:
        bulk = index % 8 < BULK_SIZE and business is None
        origin = index - index % 8 if bulk else index  # the posts of one bulk share their data
        rng = random.Random(f"{self.seed}-post-{origin}")
        pid = 500_000 + index
        if business is None:
            business = self.business_ids[(origin // 8 + index % 8 if bulk else index) % len(self.business_ids)]
        post_type = POST_TYPES[origin % len(POST_TYPES)]
        created = when or EPOCH + dt.timedelta(seconds=rng.randint(0, 900 * 86400), microseconds=rng.randint(0, 999_999))
        updated = created + dt.timedelta(seconds=rng.randint(0, 3 * 86400)) if when is None else created
        tz = PARIS_SUMMER if index % 2 else PARIS_WINTER
        on_facebook = rng.random() < 0.6
        state = STATES[index % len(STATES)]
        statuses = [{"name": "google_my_business", "state": state,
                     "link": f"https://posts.example.com/google/{pid}" if state == "live" else None}]
        if on_facebook:
            statuses.append({"name": "facebook", "state": "live", "link": f"https://posts.example.com/facebook/{pid}"})
        timed = post_type in ("event", "offer")
        return {
            "id": pid, "business_id": business, "post_type": post_type,
            "summary": f"Post {origin}: nouvelle fournee", "title": f"Offre {origin}" if timed else None,
            "schedule_time": iso(created + dt.timedelta(days=1), tz) if timed else None,
            "expiration_time": iso(created + dt.timedelta(days=8), tz) if timed else None,
            "validation_time": iso(created, tz) if index % 5 == 0 else None,
            "post_medias": [{"media_url": [f"https://img.example.com/{origin}.jpg"]}] if origin % 3 else [],
            "created_at": iso(created, tz), "updated_at": iso(updated, tz),
            "created_on_partoo": origin % 4 != 0, "updated_on_partoo": origin % 6 == 0,
            "business_info": f"Boulangerie {self.business_ids.index(business)}" if business in self.business_ids else "",
            "post_insight": [{"name": "facebook__posts", "click_count": rng.randint(0, 40), "view_count": rng.randint(40, 900)}]
            if on_facebook else [],
            "post_status": statuses,
            "offer_terms": "Un croissant offert" if post_type == "offer" else None,
            "offer_code": f"PAIN{origin}" if post_type == "offer" else None,
            "cta_link": f"https://boulangerie.example.com/{origin}" if CTA[origin % len(CTA)] else None,
            "cta_type": CTA[origin % len(CTA)],
            "bulk_id": 900_000 + origin // 8 if bulk else None,
        }

    def all(self, businesses: Optional[set] = None) -> List[dict]:
        """Newest first (created_at, then id)."""
        with self.lock:
            posts = [dict(p) for p in self.posts.values() if businesses is None or p["business_id"] in businesses]
        return sorted(posts, key=lambda p: (dt.datetime.fromisoformat(p["created_at"]), p["id"]), reverse=True)

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path != "/v2/posts":
            return None
        visible, ok = caller.scope(query, "posts")
        if not ok:
            return FORBIDDEN
        return search_page("posts", self.all(visible), query, settings)

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream != "posts":
            return None
        return self.all(set(comma_list(query, "business__in")) or None)

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        if action == "delete_posts_of_business":
            with self.lock:
                gone = sorted(pid for pid, p in self.posts.items() if p["business_id"] == body["business_id"])
                for pid in gone:
                    del self.posts[pid]
            return {"deleted": gone}
        if action == "add_post":
            when = self.clock.tick()
            with self.lock:
                index = self.next_id - 500_000
                self.next_id += 1
                post = self._post(index, body["business_id"], when)
                self.posts[post["id"]] = post
            return {"id": post["id"], "created_at": post["created_at"]}
        return None
