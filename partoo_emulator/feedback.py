"""Feedback Management (BETA): GET /feedback/feedback_result and GET /feedback/feedback_form, search
pagination under `items`.

Readings of what the docs leave open, chosen to be the hardest for a client:
- results newest first (the order is not documented);
- the creation date filters' names are not documented: no date filter is served (every other parameter
  but business__in, page and per_page is ignored), and `state` and `comments` change after creation
  (POST /_emulator/treat_feedback), so a client re-reads everything;
- `nps` may be null (a form without an NPS question), `extra` holds free keys that differ by result,
  a field's `rating`, `content` and `choices` are null unless its type fills them.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any, Dict, List, Optional

from partoo_emulator.pages import FORBIDDEN, Answer, Caller, Clock, PageSettings, comma_list, search_page
from partoo_emulator.reviews import EPOCH, PARIS_SUMMER, PARIS_WINTER, iso

FORMS = [
    {"id": 301, "org_id": 42, "display_name": "Satisfaction boutique", "email_reply_source": "business",
     "email_reply_subject": "Merci pour votre avis", "email_reply_to_business": True,
     "email_reply_expeditor_name": "Boulangeries Demo", "expiration_interval_seconds": 604800},
    {"id": 302, "org_id": 42, "display_name": "Click & collect", "email_reply_source": "org",
     "email_reply_subject": None, "email_reply_to_business": False, "email_reply_expeditor_name": None,
     "expiration_interval_seconds": None},
    {"id": 303, "org_id": 42, "display_name": "Traiteur (sans NPS)", "email_reply_source": "business",
     "email_reply_subject": "Votre commande traiteur", "email_reply_to_business": True,
     "email_reply_expeditor_name": "Le traiteur", "expiration_interval_seconds": 1209600},
]
FIELDS = {  # form id -> its fields: (id, field_type, field_label, field_choices)
    301: [(1, "CSAT", "Accueil", None), (2, "FREE_TEXT", "Un commentaire ?", None)],
    302: [(3, "CSAT", "Retrait", None), (4, "MULTIPLE_CHOICE", "Produits", ["Pain", "Viennoiseries", "Gateaux"])],
    303: [(5, "SINGLE_CHOICE", "Evenement", ["Mariage", "Anniversaire", "Entreprise"]), (6, "FREE_TEXT", "Remarques", None)],
}
NAMES = [("Marie", "Durand"), ("Jean", None), (None, None), ("Ana", "Lopez")]


class Feedback:
    def __init__(self, seed: int, count: int, business_ids: List[str], clock: Clock) -> None:
        self.business_ids = business_ids
        self.clock = clock
        self.lock = threading.Lock()
        self.results: Dict[int, dict] = {}
        for index in range(count):
            result = self._result(seed, index)
            self.results[result["id"]] = result
        self.next_comment_id = 800_000

    def _result(self, seed: int, index: int) -> dict:
        rng = random.Random(f"{seed}-feedback-{index}")
        rid = 70_000 + index
        form = FORMS[index % len(FORMS)]
        created = EPOCH + dt.timedelta(seconds=rng.randint(0, 900 * 86400), microseconds=rng.randint(0, 999_999))
        tz = PARIS_SUMMER if index % 2 else PARIS_WINTER
        fields = []
        for fid, kind, label, choices in FIELDS[form["id"]]:
            picked = rng.sample(choices, rng.randint(1, 2) if kind == "MULTIPLE_CHOICE" else 1) if choices else None
            fields.append({
                "rating": rng.randint(1, 5) if kind == "CSAT" else None,
                "content": "Tres bon accueil" if kind == "FREE_TEXT" and rng.random() < 0.7 else None,
                "choices": picked,
                "feedback_form_field": {"id": fid, "field_type": kind, "field_label": label, "field_choices": choices},
            })
        first, last = NAMES[index % len(NAMES)]
        treated = index % 3 == 0
        extra: Dict[str, Any] = {"order_id": f"CMD-{index:05d}"} if index % 2 else {}
        if index % 5 == 0:
            extra["channel"] = "sms"
        return {
            "id": rid, "business_id": self.business_ids[index % len(self.business_ids)],
            "firstname": first, "lastname": last,
            "nps": None if form["id"] == 303 else rng.randint(0, 10),
            "content": None if index % 4 == 2 else f"Avis {index}: pain excellent",
            "state": "treated" if treated else "not_treated", "optin": index % 4 != 1,
            "created": iso(created, tz), "feedback_form": {"id": form["id"], "display_name": form["display_name"]},
            "feedback_result_fields": fields,
            "comments": [self._comment(900_000 + index, rid, created + dt.timedelta(hours=5))] if treated else [],
            "extra": extra,
        }

    @staticmethod
    def _comment(cid: int, rid: int, when: dt.datetime) -> dict:
        return {"id": cid, "created": iso(when), "author_name": "Claire Martin", "content": "Merci pour votre retour !",
                "feedback_result_id": rid, "user_id": "5309c3a237bbc544d8e26737", "is_reply_suggestion": cid % 4 == 0}

    def all(self, businesses: Optional[set] = None) -> List[dict]:
        """Newest first."""
        with self.lock:
            results = [dict(r, comments=list(r["comments"])) for r in self.results.values()
                       if businesses is None or r["business_id"] in businesses]
        return sorted(results, key=lambda r: (dt.datetime.fromisoformat(r["created"]), r["id"]), reverse=True)

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path not in ("/v2/feedback/feedback_result", "/v2/feedback/feedback_form"):
            return None
        visible, ok = caller.scope(query, "feedback_management")
        if not ok:
            return FORBIDDEN
        return search_page("items", FORMS if path.endswith("feedback_form") else self.all(visible), query, settings)

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream == "feedback_forms":
            return list(FORMS)
        if stream == "feedback_results":
            return self.all(set(comma_list(query, "business__in")) or None)
        return None

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        if action != "treat_feedback":
            return None
        when = self.clock.tick()
        with self.lock:
            result = self.results[int(body["id"])]
            self.next_comment_id += 1
            comment = self._comment(self.next_comment_id, result["id"], when)
            result["comments"] = result["comments"] + [comment]
            result["state"] = "treated"
        return {"id": result["id"], "state": "treated", "comment_id": comment["id"]}
