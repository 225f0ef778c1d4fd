"""Review and presence analytics: GET /review_analytics/metrics (computed from the Reviews area's own
reviews), GET /presence_analytics/metrics (Google Business Profile figures per business and day) and
GET /presence_analytics/keywords (search keywords per business and month).

Readings of what the docs leave open, chosen to be the hardest for a client:
- review metrics: `dimensions` takes ONE value (a comma list of several: 400); the metric/dimension
  compatibility of the docs is enforced (400), `rank` needs an `order_by`; the window is on the reviews'
  update date (its date when it has none), deleted reviews left out, day buckets are UTC days; a
  date-time bound is compared to the microsecond (`__lte=...T23:59:59` leaves out the day's last
  second), a bare date on `__lte` means the whole day; `filter_date__gte/__lte` is a synonym;
- presence metrics: the body with dimensions is not documented: rows keyed like the keywords sibling
  (`metrics`: [{business_id, date, bucket, <metric>: n}]) by default, or `data`: [{dimension,
  dimension_name, <day|week|month|year>, metrics: {...}}] (--presence-rows dimensions); a row holds
  only the requested dimensions' keys and metrics; the last 5 days are not settled and grow when read
  again; a window may not exceed 400 days (a limit the docs do not state), without `filter_date__gte` it
  starts with the data (2023-01-01) and so exceeds it; a window ending after today is cut at today;
- keywords: a month's rows arrive in the next month (none before the 5th, about half from the 5th to
  the 9th, all from the 10th); `keyword` is sometimes an integer; a keyword used fewer than 15 times
  has `count: null, threshold: 15`; rows match the window on their date (the month's first day, so
  `filter_date__gte=2024-01-15` leaves January out); a row holds only the requested dimensions' keys
  and metrics;
- for all three, the date bounds are naive UTC or carry an offset; rows are compared at midnight UTC.
- "today" is the real UTC date, or the one set by POST /_emulator/analytics_today {"date": "YYYY-MM-DD"}
  ({"date": null} goes back to the real date).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from partoo_emulator.businesses import Businesses
from partoo_emulator.groups import Groups
from partoo_emulator.pages import FORBIDDEN, Answer, Caller, PageSettings, bad_request, comma_list, search_page
from partoo_emulator.reviews import Reviews, as_utc, replies_of

REVIEW_METRICS = ["average_rating", "rating_distribution", "reviews_count", "reply_time", "reply_means",
                  "average_rating_distribution", "rank"]
FIVE = ["average_rating", "rating_distribution", "reviews_count", "reply_time", "reply_means"]
TIME_DIMENSIONS = ["day", "week", "month", "year"]
# The docs' metric x dimension table (None: no dimension).
COMPATIBLE: Dict[Optional[str], List[str]] = {
    None: [m for m in REVIEW_METRICS if m != "rank"], **{t: FIVE for t in TIME_DIMENSIONS},
    "business": FIVE + ["rank"], "group": FIVE + ["rank"], "user": ["reply_time", "reply_means", "rank"],
    "tag": ["average_rating", "rating_distribution", "reviews_count"],
}
PRESENCE_METRICS = ["business_impressions_desktop_maps", "business_impressions_desktop_search",
                    "business_impressions_mobile_maps", "business_impressions_mobile_search",
                    "business_direction_requests", "call_clicks", "website_clicks"]
PRESENCE_SCALE = [120, 300, 180, 400, 25, 15, 40]  # the largest settled value of each metric
PRESENCE_START = dt.date(2023, 1, 1)
UNSETTLED_DAYS = 5
MAX_WINDOW_DAYS = 400
KEYWORD_METRICS = ["count", "threshold"]
KEYWORD_DIMENSIONS = ["business", "keyword", "month", "year"]
KEYWORD_THRESHOLD = 15
WORDS = ["boulangerie", "pain", "croissant", "baguette", "patisserie", "brioche", "viennoiserie", "gateau",
         "sandwich", "tarte", "macaron", "cafe", "levain", "chocolatine", "eclair", "paris", "lyon", "bio",
         "ouvert dimanche", "pres de moi", "artisan", "traiteur", "boulanger", "petit dejeuner"]


class BadQuery(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.answer = bad_request(name, message)


def moment(query: Dict[str, str], names: List[str], whole_day: bool = False) -> Optional[dt.datetime]:
    """The first of these parameters present, as an aware UTC datetime: a bare date is its midnight (its
    last microsecond with whole_day), a naive date-time is UTC."""
    for name in names:
        value = query.get(name)
        if not value:
            continue
        try:
            if len(value) == 10:
                start = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.timezone.utc)
                return start + dt.timedelta(days=1, microseconds=-1) if whole_day else start
            return as_utc(value)
        except ValueError:
            raise BadQuery(name, "Not a valid date or datetime.") from None
    return None


def requested_metrics(query: Dict[str, str], known: List[str]) -> List[str]:
    metrics = comma_list(query, "metrics")
    if not metrics:
        raise BadQuery("metrics", "Missing data for required field.")
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise BadQuery("metrics", f"Unknown metrics: {', '.join(unknown)}; one or more of {', '.join(known)}.")
    return metrics


def first_day(moment_: Optional[dt.datetime]) -> Optional[dt.date]:
    """The first day whose midnight is at or after this moment."""
    if moment_ is None:
        return None
    return moment_.date() + dt.timedelta(days=1 if moment_.timetz().replace(tzinfo=None) != dt.time() else 0)


def bucket(day: dt.date, size: str) -> dt.date:
    if size == "week":
        return day - dt.timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    if size == "year":
        return day.replace(month=1, day=1)
    return day


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def per_page_500(query: Dict[str, str]) -> Dict[str, str]:
    """The query with the presence endpoints' per_page default (500), for search_page."""
    return dict(query, per_page=query.get("per_page") or "500")


class Today:
    """The analytics' today: the real UTC date unless a test set one."""

    def __init__(self, fixed: Optional[str] = None) -> None:
        self.fixed = dt.date.fromisoformat(fixed) if fixed else None

    def __call__(self) -> dt.date:
        return self.fixed or dt.datetime.now(dt.timezone.utc).date()


class ReviewFacts:
    """What the review metrics need of one review."""

    def __init__(self, review: dict) -> None:
        self.business = review["business_id"]
        self.moment = as_utc(review["update_date"] or review["date"])
        self.rating = review["rating"]
        self.tags = [(t["id"], t["label"]) for t in review.get("tags") or []]
        replies = sorted(replies_of(review), key=lambda r: as_utc(r["created"]))
        first = replies[0] if replies else None
        self.replied = first is not None
        self.fast = first is not None and as_utc(first["created"]) - as_utc(review["date"]) <= dt.timedelta(hours=24)
        self.replier = first.get("user_id") if first else None


def review_metrics(facts: List[ReviewFacts], metrics: List[str]) -> Dict[str, Any]:
    ratings = [f.rating for f in facts if f.rating is not None]
    out: Dict[str, Any] = {}
    for name in metrics:
        if name == "reviews_count":
            out[name] = len(facts)
        elif name == "average_rating":
            out[name] = round(sum(ratings) / len(ratings), 2) if ratings else None
        elif name == "rating_distribution":
            out[name] = {str(k): ratings.count(k) for k in range(1, 6)}
        elif name == "reply_time":
            fast = sum(1 for f in facts if f.fast)
            replied = sum(1 for f in facts if f.replied)
            out[name] = {"fast": fast, "slow": replied - fast, "not_replied": len(facts) - replied, "total": len(facts)}
        elif name == "reply_means":
            partoo = sum(1 for f in facts if f.replier)
            replied = sum(1 for f in facts if f.replied)
            out[name] = {"partoo": partoo, "other": replied - partoo, "total": replied}
        elif name == "average_rating_distribution":
            by_business: Dict[str, List[int]] = {}
            for f in facts:
                if f.rating is not None:
                    by_business.setdefault(f.business, []).append(f.rating)
            means = [min(5, int(sum(r) / len(r))) for r in by_business.values()]
            out[name] = {str(k): means.count(k) for k in range(1, 6)}
    return out


class Analytics:
    def __init__(self, seed: int, reviews: Reviews, businesses: Businesses, groups: Groups, today: Optional[str] = None) -> None:
        self.seed = seed
        self.reviews = reviews
        self.businesses = businesses
        self.groups = groups
        self.today = Today(today)
        self.lock = threading.Lock()
        self.settled_cache: Dict[Tuple[str, dt.date], List[int]] = {}
        self.keyword_cache: Dict[Tuple[str, dt.date], List[dict]] = {}
        self.facts_cache: Tuple[int, List[ReviewFacts]] = (-1, [])

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        routes: Dict[str, Callable[..., Answer]] = {
            "/v2/review_analytics/metrics": self.review_answer,
            "/v2/presence_analytics/metrics": self.presence_answer,
            "/v2/presence_analytics/keywords": self.keywords_answer,
        }
        if path not in routes:
            return None
        if path.startswith("/v2/review"):
            visible, ok = caller.scope(query, "review_management", "BUSINESS_MANAGER")
        else:
            visible, ok = caller.scope(query, "presence_management")
        if not ok:
            return FORBIDDEN
        try:
            return routes[path](query, visible, settings)
        except BadQuery as bad:
            return bad.answer

    def business_records(self, visible: Optional[set], query: Dict[str, str]) -> List[dict]:
        excluded = set(comma_list(query, "business__notin"))
        return sorted((b for b in self.businesses.all() if (visible is None or b["id"] in visible) and b["id"] not in excluded),
                      key=lambda b: b["id"])

    # -- review analytics --------------------------------------------------------------------------
    def all_facts(self) -> List[ReviewFacts]:
        """The facts of every review not deleted, computed again only after the reviews change."""
        version = self.reviews.version
        with self.lock:
            if self.facts_cache[0] == version:
                return self.facts_cache[1]
        facts = [ReviewFacts(r) for r in self.reviews.all() if r["state"] != "deleted"]
        with self.lock:
            self.facts_cache = (version, facts)
        return facts

    def review_facts(self, business_ids: set, since: Optional[dt.datetime], until: Optional[dt.datetime],
                     groups: List[int], tags: List[int]) -> List[ReviewFacts]:
        if groups:
            members = {b for g in groups for b in (self.groups.group(g) or {}).get("business_ids", [])}
            business_ids = business_ids & members
        out = []
        for facts in self.all_facts():
            if facts.business not in business_ids:
                continue
            if (since is not None and facts.moment < since) or (until is not None and facts.moment > until):
                continue
            if tags and not {t for t, _ in facts.tags} & set(tags):
                continue
            out.append(facts)
        return out

    def review_answer(self, query: Dict[str, str], visible: Optional[set], settings: PageSettings) -> Answer:
        metrics = requested_metrics(query, REVIEW_METRICS)
        dimensions = comma_list(query, "dimensions")
        if len(dimensions) > 1:
            raise BadQuery("dimensions", "Only one dimension may be given.")
        dimension = dimensions[0] if dimensions else None
        if dimension not in COMPATIBLE:
            raise BadQuery("dimensions", f"Must be one of: {', '.join(k for k in COMPATIBLE if k)}.")
        wrong = [m for m in metrics if m not in COMPATIBLE[dimension]]
        if wrong:
            raise BadQuery("metrics", f"{', '.join(wrong)} cannot be used with the dimension {dimension}.")
        order_by = query.get("order_by") or None
        if "rank" in metrics and not order_by:
            raise BadQuery("order_by", "rank needs an order_by.")
        try:
            groups = [int(g) for g in comma_list(query, "groups")]
            tags = [int(t) for t in comma_list(query, "tags")]
        except ValueError:
            raise BadQuery("groups", "Not a valid list of integers.") from None
        since = moment(query, ["update_date__gte", "filter_date__gte"])
        until = moment(query, ["update_date__lte", "filter_date__lte"], whole_day=True)
        records = {b["id"]: b for b in self.business_records(visible, query)}
        facts = self.review_facts(set(records), since, until, groups, tags)
        rows = self.review_rows(facts, dimension, [m for m in metrics if m != "rank"], records)
        if order_by:
            rows = self.ordered(rows, order_by, metrics)
            if "rank" in metrics:
                for position, row in enumerate(rows, 1):
                    row["metrics"]["rank"] = position
        return search_page("data", rows, query, settings)

    def review_rows(self, facts: List[ReviewFacts], dimension: Optional[str], metrics: List[str],
                    records: Dict[str, dict]) -> List[dict]:
        if dimension is None:
            return [{"dimension": None, "dimension_name": None, "dimension_info": {}, "metrics": review_metrics(facts, metrics)}]
        grouped: Dict[Any, Tuple[str, dict, List[ReviewFacts]]] = {}
        for f in facts:
            for key, name, info in self.review_keys(f, dimension, records):
                grouped.setdefault(key, (name, info, []))[2].append(f)
        return [{"dimension": key, "dimension_name": name, "dimension_info": info, "metrics": review_metrics(members, metrics)}
                for key, (name, info, members) in sorted(grouped.items())]

    def review_keys(self, f: ReviewFacts, dimension: str, records: Dict[str, dict]) -> List[Tuple[Any, Any, dict]]:
        if dimension in TIME_DIMENSIONS:
            start = bucket(f.moment.date(), dimension).isoformat()
            return [(start, start, {})]
        if dimension == "business":
            b = records[f.business]
            return [(b["id"], b["name"], {k: b[k] for k in ("address_full", "city", "zipcode", "code")})]
        if dimension == "group":
            index = self.businesses.business_ids.index(f.business)
            return [(g, (self.groups.group(g) or {}).get("name"), {}) for g in self.groups.groups_of(index)]
        if dimension == "tag":
            return [(tid, label, {}) for tid, label in f.tags]
        return [(f.replier, f.replier, {})] if f.replier else []  # user: who replied first

    @staticmethod
    def ordered(rows: List[dict], order_by: str, metrics: List[str]) -> List[dict]:
        descending = order_by.startswith("-")
        path = order_by.lstrip("-").split("__")
        if path[0] not in metrics or path[0] == "rank":
            raise BadQuery("order_by", "Must be a metric of the request.")

        def value(row: dict) -> Any:
            v: Any = row["metrics"].get(path[0])
            for part in path[1:]:
                v = v.get(part) if isinstance(v, dict) else None
            if v is not None and not isinstance(v, (int, float)):
                raise BadQuery("order_by", "Must name a number.")
            return v

        keyed = [(value(r), r) for r in rows]
        present = sorted((kv for kv in keyed if kv[0] is not None), key=lambda kv: kv[0], reverse=descending)
        return [r for _, r in present] + [r for v, r in keyed if v is None]

    # -- presence metrics --------------------------------------------------------------------------
    def settled(self, business: str, day: dt.date) -> List[int]:
        key = (business, day)
        with self.lock:
            values = self.settled_cache.get(key)
            if values is None:
                rng = random.Random(f"{self.seed}-presence-{business}-{day.isoformat()}")
                values = [rng.randint(0, top) for top in PRESENCE_SCALE]
                self.settled_cache[key] = values
        return values

    def presence_values(self, business: str, day: dt.date, today: dt.date) -> List[int]:
        """Google's figures for a day as read today: the last 5 days are still growing."""
        age = (today - day).days
        values = self.settled(business, day)
        if 0 <= age < UNSETTLED_DAYS:
            return [v * (age + 1) // (UNSETTLED_DAYS + 1) for v in values]
        return list(values)

    def presence_window(self, query: Dict[str, str]) -> Tuple[dt.date, dt.date]:
        today = self.today()
        since = first_day(moment(query, ["filter_date__gte"])) or PRESENCE_START
        until_moment = moment(query, ["filter_date__lte"])
        until = min(until_moment.date() if until_moment else today, today)
        if (until - since).days + 1 > MAX_WINDOW_DAYS:
            raise BadQuery("filter_date__lte", f"The period may not exceed {MAX_WINDOW_DAYS} days.")
        return max(since, PRESENCE_START), until

    def presence_answer(self, query: Dict[str, str], visible: Optional[set], settings: PageSettings) -> Answer:
        metrics = requested_metrics(query, PRESENCE_METRICS)
        dimensions = comma_list(query, "dimensions")
        times = [d for d in dimensions if d in TIME_DIMENSIONS]
        if (len(set(dimensions)) != len(dimensions) or len(times) > 1
                or any(d not in TIME_DIMENSIONS + ["business"] for d in dimensions)):
            raise BadQuery("dimensions", "At most business and one of day, week, month, year.")
        size = times[0] if times else None
        by_business = "business" in dimensions
        since, until = self.presence_window(query)
        today = self.today()
        records = self.business_records(visible, query)
        sums: Dict[Tuple[str, str], List[int]] = {}
        day = since
        while day <= until:
            start = bucket(day, size).isoformat() if size else ""
            for b in records:
                row = sums.setdefault((start, b["id"] if by_business else ""), [0] * len(PRESENCE_METRICS))
                for i, v in enumerate(self.presence_values(b["id"], day, today)):
                    row[i] += v
            day += dt.timedelta(days=1)
        if not dimensions and not sums:
            sums[("", "")] = [0] * len(PRESENCE_METRICS)  # no dimension: one row of sums, even of nothing
        names = {b["id"]: b["name"] for b in records}
        rows = []
        for (start, business), values in sorted(sums.items()):
            figures = {m: values[PRESENCE_METRICS.index(m)] for m in metrics}
            if settings.presence_rows == "dimensions":
                row: Dict[str, Any] = {"dimension": business or None, "dimension_name": names.get(business)}
                if size:
                    row[size] = start
                row["metrics"] = figures
            else:
                row = {"business_id": business} if by_business else {}
                if size:
                    row.update(date=start, bucket=size)
                row.update(figures)
            rows.append(row)
        key = "data" if settings.presence_rows == "dimensions" else "metrics"
        return search_page(key, rows, per_page_500(query), settings, max_per_page=500)

    # -- presence keywords -------------------------------------------------------------------------
    def month_keywords(self, business: str, month: dt.date) -> List[dict]:
        """Every keyword of a business's month once it is all in, with `early`: among the first half."""
        key = (business, month)
        with self.lock:
            cached = self.keyword_cache.get(key)
        if cached is not None:
            return cached
        rng = random.Random(f"{self.seed}-keywords-{business}-{month.isoformat()}")
        seen, out = set(), []
        for _ in range(rng.randint(5, 60)):
            if rng.randrange(50) == 0:
                keyword: Any = rng.randint(100, 999)  # the docs' example shows an integer keyword
            else:
                first, second = rng.sample(WORDS, 2)
                keyword = first if rng.random() < 0.2 else f"{first} {second}"
            if str(keyword) in seen:
                continue
            seen.add(str(keyword))
            used = rng.randint(1, KEYWORD_THRESHOLD - 1) if rng.random() < 0.5 else rng.randint(KEYWORD_THRESHOLD, 900)
            out.append({"keyword": keyword, "count": used if used >= KEYWORD_THRESHOLD else None,
                        "threshold": None if used >= KEYWORD_THRESHOLD else KEYWORD_THRESHOLD,
                        "date": month.isoformat(), "bucket": "month", "business_id": business, "early": rng.random() < 0.5})
        with self.lock:
            self.keyword_cache[key] = out
        return out

    def keywords_at(self, businesses: List[str], today: dt.date) -> List[dict]:
        """Every keyword row that has arrived by today (with its `early` flag), in no particular order."""
        out = []
        month = PRESENCE_START
        while next_month(month).replace(day=5) <= today:
            complete = next_month(month).replace(day=10) <= today
            for business in businesses:
                out.extend(k for k in self.month_keywords(business, month) if complete or k["early"])
            month = next_month(month)
        return out

    def keywords_answer(self, query: Dict[str, str], visible: Optional[set], settings: PageSettings) -> Answer:
        metrics = requested_metrics(query, KEYWORD_METRICS)
        dimensions = comma_list(query, "dimensions")
        if any(d not in KEYWORD_DIMENSIONS for d in dimensions) or {"month", "year"} <= set(dimensions):
            raise BadQuery("dimensions", "A list of business, keyword, and one of month, year.")
        if "keyword" in dimensions and len(set(comma_list(query, "business__in"))) != 1:
            raise BadQuery("business__in", "business__in must be one business with the keyword dimension")
        since = moment(query, ["filter_date__gte"])
        until = moment(query, ["filter_date__lte"])
        records = self.business_records(visible, query)
        size = "month" if "month" in dimensions else "year" if "year" in dimensions else None
        groups: Dict[Tuple[str, str, str], List[dict]] = {}
        for k in self.keywords_at([b["id"] for b in records], self.today()):
            midnight = dt.datetime.combine(dt.date.fromisoformat(k["date"]), dt.time(), dt.timezone.utc)
            if (since is not None and midnight < since) or (until is not None and midnight > until):
                continue
            start = bucket(dt.date.fromisoformat(k["date"]), size).isoformat() if size else ""
            key = (start, str(k["keyword"]) if "keyword" in dimensions else "", k["business_id"] if "business" in dimensions else "")
            groups.setdefault(key, []).append(k)
        rows = []
        for (start, _, business), members in sorted(groups.items()):
            row: Dict[str, Any] = {}
            if "keyword" in dimensions:
                row["keyword"] = members[0]["keyword"]
            known = [k["count"] for k in members if k["count"] is not None]
            figures = {"count": sum(known) if known else None, "threshold": None if known else KEYWORD_THRESHOLD}
            row.update({m: figures[m] for m in metrics})
            if size:
                row.update(date=start, bucket=size)
            if business:
                row["business_id"] = business
            rows.append(row)
        return search_page("keywords", rows, per_page_500(query), settings, max_per_page=500)

    # -- records for tests -------------------------------------------------------------------------
    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream not in ("review_metrics_daily", "presence_metrics_daily", "presence_keywords_monthly"):
            return None
        wanted = set(comma_list(query, "business__in")) or None
        records = self.business_records(wanted, {})
        today = self.today()
        since = dt.date.fromisoformat(query["since"]) if query.get("since") else None
        until = dt.date.fromisoformat(query["until"]) if query.get("until") else None
        if stream == "review_metrics_daily":
            names = {b["id"]: b["name"] for b in records}
            days: Dict[Tuple[str, str], List[ReviewFacts]] = {}
            for f in self.review_facts(set(names), None, None, [], []):
                day = f.moment.date()
                if (since is None or day >= since) and (until is None or day <= until):
                    days.setdefault((f.business, day.isoformat()), []).append(f)
            return [dict({"business_id": b, "date": d, "business_name": names[b]}, **review_metrics(facts, FIVE))
                    for (b, d), facts in sorted(days.items())]
        if stream == "presence_metrics_daily":
            until = min(until or today, today)
            day = max(since or today - dt.timedelta(days=30), PRESENCE_START)
            out = []
            while day <= until:
                out.extend(dict({"business_id": b["id"], "date": day.isoformat()},
                                **dict(zip(PRESENCE_METRICS, self.presence_values(b["id"], day, today)))) for b in records)
                day += dt.timedelta(days=1)
            return out
        rows = [{"business_id": k["business_id"], "keyword": str(k["keyword"]), "date": k["date"],
                 "count": k["count"], "threshold": k["threshold"]}
                for k in self.keywords_at([b["id"] for b in records], today)
                if (since is None or k["date"] >= since.isoformat()) and (until is None or k["date"] <= until.isoformat())]
        return sorted(rows, key=lambda r: (r["business_id"], r["date"], r["keyword"]))

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        if action != "analytics_today":
            return None
        self.today.fixed = dt.date.fromisoformat(body["date"]) if body.get("date") else None
        return {"today": self.today().isoformat()}
