"""Businesses (GET /business/search): the businesses the conversations belong to, every status, with
epoch-float dates; `status` defaults to open, `modified__gte` filters on epoch seconds."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any, Callable, Dict, List, Optional

from partoo_emulator.pages import FORBIDDEN, Answer, Caller, PageSettings, search_page

STATUSES = ["open", "open", "closed", "opening_soon", "temporarily_closed", "open"]
CITIES = [("Paris", "75002", "FR"), ("Lyon", "69001", "FR"), ("Madrid", "28001", "ES"), ("Milano", "20121", "IT")]
EPOCH = dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc).timestamp()


class Businesses:
    def __init__(self, seed: int, business_ids: List[str], groups_of: Callable[[int], List[int]], clock: Callable[[], float]) -> None:
        self.business_ids = business_ids
        self.groups_of = groups_of
        self.clock = clock  # epoch seconds of the next change made at run time
        self.lock = threading.Lock()
        self.touched: Dict[int, float] = {}
        self.records = [self._business(seed, i, b) for i, b in enumerate(business_ids)]

    def _business(self, seed: int, index: int, bid: str) -> dict:
        rng = random.Random(f"{seed}-business-{index}")
        created = round(EPOCH + rng.randint(0, 300 * 86400) + rng.random(), 6)
        modified = round(created + rng.randint(1, 400 * 86400) + rng.random(), 6)
        city, zipcode, country = CITIES[index % len(CITIES)]
        status = STATUSES[index % len(STATUSES)]
        return {
            "id": bid, "created": created, "modified": modified, "code": f"CS-{index:05d}", "status": status,
            "opening_date": "2026-09-01" if status == "opening_soon" else None, "org_id": 42,
            "group_id": None, "groups": self.groups_of(index), "name": f"Boulangerie {index}",
            "address": f"{index % 90 + 1} rue de la Paix", "address_full": f"{index % 90 + 1} rue de la Paix",
            "address2": None if index % 3 else "Bat. B", "city": city, "zipcode": zipcode, "region": None,
            "country": country, "default_lang": "fr" if country == "FR" else "en",
            "categories": ["gcid:bakery"], "time_slot_reference": ["08:00-13:00", "14:00-19:00"],
            "open_hours": {"monday": ["08:00-13:00", "14:00-19:00"], "sunday": []},
            "specific_hours": {"open": [], "close": [{"starts_at": "2025-12-25", "ends_at": "2025-12-26"}]},
            "description_short": "Pain au levain", "description_long": None,
            "website_url": f"https://boulangerie-{index}.example.com", "facebook_url": None, "twitter_url": None,
            "google_location_id": f"accounts/1/locations/{index}" if index % 4 else None, "facebook_page_id": None,
            "national_identification_number": None, "logo_url": None,
            "contacts": [{"name": "Claire", "email": f"shop{index}@example.com", "phone_numbers": ["+33100000000"], "fax": None}],
            "photos": {"LOGO": None, "primary": None, "secondary": []},
            "lat": 48.85 + index / 1000, "long": 2.35 + index / 1000,
            "subscriptions": {"presence_management": {"active": True}, "review_management": {"active": index % 5 != 4},
                              "review_booster": {"active": False}, "messages": {"active": True}},
            "features": ["messages", "review_management"], "completion_rate": 50 + index % 50,
        }

    def all(self) -> List[dict]:
        with self.lock:
            return [dict(b, modified=self.touched.get(i, b["modified"])) for i, b in enumerate(self.records)]

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path != "/v2/business/search":
            return None
        visible, ok = caller.visible(query)
        if not ok:
            return FORBIDDEN
        statuses = set((query.get("status") or "open").split(","))
        try:
            since = float(query["modified__gte"]) if query.get("modified__gte") else None
        except ValueError:
            return 400, {"errors": {"json": {"modified__gte": "Not a valid number."}}}
        items = [b for b in self.all() if b["status"] in statuses and (visible is None or b["id"] in visible)
                 and (since is None or b["modified"] >= since)]
        return search_page("businesses", items, query, settings)

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream != "businesses":
            return None
        wanted = set(query["business__in"].split(",")) if query.get("business__in") else None
        return [b for b in self.all() if wanted is None or b["id"] in wanted]

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        if action != "touch_business":
            return None
        index = int(body.get("index", 0))
        with self.lock:
            self.touched[index] = round(self.clock(), 6)
        return {"id": self.business_ids[index], "modified": self.touched[index]}
