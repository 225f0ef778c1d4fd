"""Listings (GET /publisher_states): the state of every business on every publisher, a snapshot.

Readings of what the docs leave open, chosen to be the hardest for a client:
- `businesses` is an object keyed by business id, not a list; `count` is the number of businesses on
  this page, and there is no `page` nor `max_page`: the client stops on a short or an empty page;
- `per_page` defaults to 5 (max 100, else 400): a client that sends nothing reads five a page;
- a business is not on every publisher; `publishers` and `states` filter the publishers of each
  business, and a business left with none is not listed;
- enums grow: a publisher (`tomtom`) and a state (`not_available`) the docs do not name.
"""

from __future__ import annotations

import copy
import random
import threading
from typing import Any, Dict, List, Optional

from partoo_emulator.businesses import Businesses
from partoo_emulator.pages import FORBIDDEN, Answer, Caller, PageSettings, bad_request, comma_list

PUBLISHERS = ["google_my_business", "facebook", "bing", "apple_business_connect", "waze", "tomtom"]
STATES = ["success", "success", "success", "pending", "to_configure", "not_available"]
ERRORS = {"success": [None], "pending": [None, "EXTERNAL"], "to_configure": ["USER_INPUT", "PUBLISHER_CONNEXION"],
          "not_available": ["EXTERNAL", None]}


class Listings:
    def __init__(self, seed: int, businesses: Businesses) -> None:
        self.businesses = businesses
        self.lock = threading.Lock()
        self.states: Dict[str, Dict[str, dict]] = {bid: self._publishers(seed, bid) for bid in businesses.business_ids}

    @staticmethod
    def _publishers(seed: int, bid: str) -> Dict[str, dict]:
        rng = random.Random(f"{seed}-listings-{bid}")
        out = {}
        for publisher in PUBLISHERS:
            if publisher != "google_my_business" and rng.random() < 0.2:
                continue  # not on this publisher at all
            state = rng.choice(STATES)
            out[publisher] = {"state": state, "error_type": rng.choice(ERRORS[state]),
                              "url_on_publisher": f"https://{publisher}.example.com/{bid}" if state == "success" else None}
        return out

    def listed(self, visible: Optional[set], publishers: List[str], states: List[str]) -> List[dict]:
        """The businesses' entries, by business id, each with the publishers that pass the filters."""
        out = []
        with self.lock:
            snapshot = copy.deepcopy(self.states)
        for b in sorted(self.businesses.all(), key=lambda b: b["id"]):
            if visible is not None and b["id"] not in visible:
                continue
            kept = {p: s for p, s in snapshot.get(b["id"], {}).items()
                    if (not publishers or p in publishers) and (not states or s["state"] in states)}
            if kept:
                out.append({"business_id": b["id"], "business_name": b["name"],
                            "business_formatted_address": f"{b['address_full']}, {b['zipcode']} {b['city']}",
                            "publishers": kept})
        return out

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path != "/v2/publisher_states":
            return None
        visible, ok = caller.scope(query, "presence_management")
        if not ok:
            return FORBIDDEN
        try:
            per_page = int(query.get("per_page") or "5")
            page = max(int(query.get("page") or "1"), 1)
        except ValueError:
            return bad_request("page", "page and per_page must be integers.")
        if not 1 <= per_page <= 100:
            return bad_request("per_page", "Must be between 1 and 100.")
        entries = self.listed(visible, comma_list(query, "publishers"), comma_list(query, "states"))
        chunk = entries[(page - 1) * per_page: page * per_page]
        return 200, {"businesses": {e["business_id"]: e for e in chunk}, "count": len(chunk)}

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream != "publisher_states":
            return None
        return [{"business_id": e["business_id"], "publisher": p, "business_name": e["business_name"],
                 "business_formatted_address": e["business_formatted_address"], **s}
                for e in self.listed(set(comma_list(query, "business__in")) or None, [], []) for p, s in e["publishers"].items()]

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        if action != "set_publisher_state":
            return None
        bid, publisher = body["business_id"], body["publisher"]
        with self.lock:
            entry = self.states.setdefault(bid, {}).setdefault(publisher, {"state": None, "error_type": None, "url_on_publisher": None})
            entry["state"] = body["state"]
            entry["error_type"] = body.get("error_type")
            entry["url_on_publisher"] = f"https://{publisher}.example.com/{bid}" if body["state"] == "success" else None
            return dict(entry, business_id=bid, publisher=publisher)
