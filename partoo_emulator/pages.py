"""Partoo's search pagination, shared by every search endpoint: {page, max_page, count, <list key>: [...]},
plus who may read what (keys scoped to businesses, products and roles)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

Answer = Tuple[int, Any]

ROLES = ["PUBLISHER", "BUSINESS_MANAGER", "GROUP_MANAGER", "ORG_MANAGER", "ORG_ADMIN", "PROVIDER"]
FORBIDDEN: Answer = (403, {"errors": {"authorization": "Operation not allowed"}})
NOT_FOUND: Answer = (404, {"errors": {"json": "Resource not found"}})
PRESENCE_ROWS = ["keys", "dimensions"]


def bad_request(field_name: str, message: str) -> Answer:
    return 400, {"errors": {"json": {field_name: message}}}


def comma_list(query: Dict[str, str], name: str) -> List[str]:
    return [v for v in (query.get(name) or "").split(",") if v]


@dataclass
class Caller:
    """What the request's key may see."""

    allowed: Optional[Set[str]] = None  # businesses; None: the whole organization
    role: str = "ORG_ADMIN"
    missing_products: Set[str] = field(default_factory=set)

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def visible(self, query: Dict[str, str]) -> Tuple[Optional[Set[str]], bool]:
        """The businesses a request may read (None: all), and False when it names one it may not."""
        requested = set(query["business__in"].split(",")) if query.get("business__in") else None
        if self.allowed is not None and requested is not None and not requested <= self.allowed:
            return None, False
        return (requested if requested is not None else self.allowed), True

    def scope(self, query: Dict[str, str], product: str, role: str = "PUBLISHER") -> Tuple[Optional[Set[str]], bool]:
        """visible(), and False also when the organization lacks the product or the user the role."""
        if product in self.missing_products or not self.at_least(role):
            return None, False
        return self.visible(query)


@dataclass
class PageSettings:
    """Switches for the pagination faults and the body shapes (CLI flags, and POST /_emulator/settings)."""

    ignore_per_page: bool = False  # serve 30 a page whatever per_page says
    stuck_page: bool = False  # every page number answers page 1 again
    growing_max_page: bool = False  # max_page grows by one with every page served
    # GET /presence_analytics/metrics rows: "keys" ({business_id, date, bucket, <metric>: n} under `metrics`)
    # or "dimensions" ({dimension, dimension_name, day, metrics: {...}} under `data`): the docs show neither
    presence_rows: str = "keys"


def search_page(key: str, items: List[dict], query: Dict[str, str], settings: PageSettings, max_per_page: int = 100) -> Answer:
    try:
        per_page = int(query.get("per_page", "30"))
        page = int(query.get("page", "1"))
    except ValueError:
        return 400, {"errors": {"json": {"page": "page and per_page must be integers."}}}
    if not 1 <= per_page <= max_per_page:
        return 400, {"errors": {"json": {"per_page": f"Must be between 1 and {max_per_page}."}}}
    if settings.ignore_per_page:
        per_page = 30
    page = max(page, 1)  # some pages of the docs say page defaults to 0: the first page either way
    if settings.stuck_page:
        page = 1
    count = len(items)
    max_page = math.ceil(count / per_page)
    if settings.growing_max_page:
        max_page += page
    chunk = items[(page - 1) * per_page: page * per_page]
    if settings.growing_max_page and not chunk:
        chunk = items[-per_page:]  # a broken server: the list never ends
    return 200, {"page": page, "max_page": max_page, "count": count, key: chunk}


class Clock:
    """The time of changes made at run time (POST /_emulator/...): now, as Partoo dates a change, and never
    before the previous change nor before 2026-01-01 (after every date the emulator generates by default).
    Not a fixed base: data generated up to a recent day (--reviews-until) would be newer than the change."""

    def __init__(self) -> None:
        import datetime as dt
        import threading

        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        self.lock = threading.Lock()

    def tick(self):
        import datetime as dt

        with self.lock:
            self.now = max(dt.datetime.now(dt.timezone.utc), self.now + dt.timedelta(microseconds=1))
            return self.now

    def tick_epoch(self) -> float:
        return self.tick().timestamp()
