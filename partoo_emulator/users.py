"""Users (GET /user/search): every role, created_at in epoch seconds (an integer), business_id filter."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Callable, Dict, List, Optional

from partoo_emulator.pages import FORBIDDEN, Answer, Caller, PageSettings, search_page

ROLE_CYCLE = ["ORG_ADMIN", "ORG_MANAGER", "GROUP_MANAGER", "BUSINESS_MANAGER", "BUSINESS_MANAGER", "PUBLISHER"]
NAMES = [("Claire", "Martin"), ("Hugo", "Bernard"), ("Lea", "Dubois"), ("Tom", "Petit"), ("Ines", "Roux")]
EPOCH = int(dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc).timestamp())


class Users:
    def __init__(self, seed: int, count: int, business_ids: List[str], group_members: Callable[[int], List[str]]) -> None:
        self.business_ids = business_ids
        self.group_members = group_members
        self.records = [self._user(seed, i) for i in range(count)]

    def _user(self, seed: int, index: int) -> dict:
        rng = random.Random(f"{seed}-user-{index}")
        role = ROLE_CYCLE[index % len(ROLE_CYCLE)]
        first, last = NAMES[index % len(NAMES)]
        return {
            "id": f"{rng.getrandbits(96):024x}", "org_id": 42, "first_name": first, "last_name": last,
            "email": f"{first.lower()}.{last.lower()}{index}@example.com", "lang": ["fr", "en", "es"][index % 3],
            "sidebar_pages": ["messages", "review_management"] if role != "PUBLISHER" else ["posts"],
            "available_features": ["messages", "review_management"],
            "business_ids": [self.business_ids[index % len(self.business_ids)]] if role == "BUSINESS_MANAGER" else [],
            "group_id": None, "accesses": [[11, 21]] if role == "GROUP_MANAGER" else [],
            "role": role, "provider": "partoo", "status": "invited" if index % 7 == 6 else "active",
            "disabled": index % 11 == 10, "created_at": EPOCH + rng.randint(0, 1500 * 86400),
            "shadow_user_id": None, "sso_only": index % 4 == 0, "custom_role": None,
        }

    def can_access(self, user: dict, business: str) -> bool:
        if user["role"] == "BUSINESS_MANAGER":
            return business in user["business_ids"]
        if user["role"] == "GROUP_MANAGER":
            # accesses: lists of groups; a business in every group of one list is accessible
            return any(all(business in self.group_members(g) for g in access) for access in user["accesses"])
        return True

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path != "/v2/user/search":
            return None
        if not caller.at_least("ORG_MANAGER"):
            return FORBIDDEN
        business = query.get("business_id")
        items = [u for u in self.records if not business or self.can_access(u, business)]
        return search_page("users", items, query, settings)

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream != "users":
            return None
        wanted = query["business__in"].split(",") if query.get("business__in") else None
        if wanted is None:
            return list(self.records)
        return [u for u in self.records if any(self.can_access(u, b) for b in wanted)]

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        return None
