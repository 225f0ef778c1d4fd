"""The API areas beyond Messages, one module each, behind one dispatch table for server.py: every area
answers `handle(path, query, caller, settings)` with (status, body) or None (not its path), gives the
records of its streams to GET /_emulator/expected, and applies its POST /_emulator/<action> changes."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, Dict, List, Optional, Set, Tuple

from partoo_emulator.analytics import Analytics
from partoo_emulator.businesses import Businesses
from partoo_emulator.feedback import Feedback
from partoo_emulator.groups import Groups
from partoo_emulator.listings import Listings
from partoo_emulator.orgs import Organizations
from partoo_emulator.pages import PRESENCE_ROWS, ROLES, Caller, Clock, PageSettings
from partoo_emulator.posts import Posts
from partoo_emulator.reviews import Reviews
from partoo_emulator.templates import Templates
from partoo_emulator.users import Users

PRODUCT_ALIASES = {
    "reviews": "review_management", "review_management": "review_management", "messages": "messages",
    "presence": "presence_management", "presence_management": "presence_management", "posts": "posts",
    "feedback": "feedback_management", "feedback_management": "feedback_management",
}


class Areas:
    def __init__(self, args: argparse.Namespace, business_ids: List[str]) -> None:
        self.clock = Clock()
        self.settings = PageSettings(args.ignore_per_page, args.stuck_page, args.growing_max_page, args.presence_rows)
        self.groups = Groups(business_ids, bare_list=args.sections_bare_list)
        businesses = Businesses(args.seed, business_ids, self.groups.groups_of, self.clock.tick_epoch)
        reviews = Reviews(args.seed, args.reviews, business_ids, self.clock,
                          dt.date.fromisoformat(args.reviews_until) if args.reviews_until else None)
        self.table = [
            businesses,
            reviews,
            Users(args.seed, args.users, business_ids, lambda gid: (self.groups.group(gid) or {}).get("business_ids", [])),
            self.groups,
            Organizations(),
            Analytics(args.seed, reviews, businesses, self.groups, args.analytics_today),
            Posts(args.seed, args.posts, business_ids, self.clock),
            Listings(args.seed, businesses),
            Feedback(args.seed, args.feedback_results, business_ids, self.clock),
            Templates(),
        ]
        # Keys scoped to a product the organization lacks, or to a role (403 where the role may not read).
        self.missing_products: Dict[str, Set[str]] = {}
        for spec in args.key_without_product or []:
            key, _, products = spec.partition(":")
            self.missing_products[key] = {PRODUCT_ALIASES.get(p, p) for p in products.split(",") if p}
        self.roles: Dict[str, str] = {}
        for spec in args.key_role or []:
            key, _, role = spec.partition(":")
            if role not in ROLES:
                raise SystemExit(f"--key-role {spec}: the role must be one of {', '.join(ROLES)}")
            self.roles[key] = role

    def keys(self) -> Set[str]:
        return set(self.missing_products) | set(self.roles)

    def caller(self, key: str, allowed: Optional[Set[str]]) -> Caller:
        return Caller(allowed, self.roles.get(key, "ORG_ADMIN"), self.missing_products.get(key, set()))

    def handle(self, path: str, query: Dict[str, str], caller: Caller) -> Optional[Tuple[int, Any]]:
        for area in self.table:
            answer = area.handle(path, query, caller, self.settings)
            if answer is not None:
                return answer
        return None

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        for area in self.table:
            records = area.expected(stream, query)
            if records is not None:
                return records
        return None

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        for area in self.table:
            answer = area.control(action, body)
            if answer is not None:
                return answer
        return None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reviews", type=int, default=400, help="reviews in the organization")
    p.add_argument("--reviews-until", metavar="YYYY-MM-DD",
                   help="the reviews' dates end about this day (default: they span 2023-01-01 + 900 days)")
    p.add_argument("--users", type=int, default=24, help="users in the organization")
    p.add_argument("--posts", type=int, default=120, help="posts in the organization")
    p.add_argument("--feedback-results", type=int, default=150, help="feedback results in the organization")
    p.add_argument("--analytics-today", metavar="YYYY-MM-DD",
                   help="the analytics' today (presence figures still settling, keyword months arrived); default the real UTC date")
    p.add_argument("--presence-rows", choices=PRESENCE_ROWS, default="keys",
                   help="GET /presence_analytics/metrics rows: keys ({business_id, date, bucket, <metric>} under `metrics`) "
                        "or dimensions ({dimension, dimension_name, day, metrics} under `data`)")
    p.add_argument("--key-without-product", action="append", metavar="KEY:PRODUCT[,PRODUCT]",
                   help="a key of an organization without these products (review_management or reviews, messages, "
                        "presence_management or presence, posts, feedback_management or feedback): 403 on their endpoints")
    p.add_argument("--key-role", action="append", metavar="KEY:ROLE",
                   help=f"a key whose user has this role ({', '.join(ROLES)}): 403 where the role may not read")
    p.add_argument("--ignore-per-page", action="store_true", help="search endpoints serve 30 a page whatever per_page says")
    p.add_argument("--stuck-page", action="store_true", help="search endpoints answer page 1 whatever page is asked")
    p.add_argument("--growing-max-page", action="store_true", help="search endpoints' max_page grows with every page")
    p.add_argument("--sections-bare-list", action="store_true", help="GET /sections answers a bare list (its wrapper is undocumented)")
