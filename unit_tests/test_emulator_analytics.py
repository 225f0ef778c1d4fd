"""The emulator's analytics and report endpoints (#24), served in process on 127.0.0.1: review metrics agree
with GET /reviews, presence figures of the last 5 days grow, keyword months arrive on the 5th and the
10th, the 400s a client must avoid, publisher_states' pages of 5 without max_page, templates as a bare
array, 403 per product, and the server's keys, faults and rate limit in front of every new path."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlencode

import pytest

from partoo_emulator.server import Emulator, build_parser, make_handler

FIVE = "average_rating,rating_distribution,reviews_count,reply_time,reply_means"
PRESENCE = ("business_impressions_desktop_maps,business_impressions_desktop_search,business_impressions_mobile_maps,"
            "business_impressions_mobile_search,business_direction_requests,call_clicks,website_clicks")
PRODUCT_KEYS = {"no-presence": "presence", "no-posts": "posts", "no-feedback": "feedback", "no-messages": "messages",
                "no-reviews": "reviews"}


class Partoo:
    def __init__(self, root: str, business_ids: List[str]) -> None:
        self.root = root
        self.business_ids = business_ids

    def get(self, path: str, key: str = "demo-key", **query: Any) -> Tuple[int, Any]:
        url = f"{self.root}/v2{path}" + (f"?{urlencode(query)}" if query else "")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"x-APIKey": key}), timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, path: str, **query: Any) -> Any:
        status, body = self.get(path, **query)
        assert status == 200, body
        return body

    def control(self, action: str, body: Optional[Dict[str, Any]] = None) -> Any:
        request = urllib.request.Request(f"{self.root}/_emulator/{action}", data=json.dumps(body or {}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def expected(self, stream: str, **query: Any) -> List[dict]:
        with urllib.request.urlopen(f"{self.root}/_emulator/expected?{urlencode(dict(query, stream=stream))}", timeout=10) as response:
            return json.loads(response.read())["records"]


@pytest.fixture(scope="module")
def partoo() -> Iterator[Partoo]:
    flags = ["--conversations", "10", "--key-role", "publisher:PUBLISHER", "--limited-key", "shop0:0"]
    for key, product in PRODUCT_KEYS.items():
        flags += ["--key-without-product", f"{key}:{product}"]
    emulator = Emulator(build_parser().parse_args(flags))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(emulator))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield Partoo(f"http://127.0.0.1:{server.server_address[1]}", emulator.data.business_ids)
    server.shutdown()
    server.server_close()


def test_a_month_of_daily_review_metrics_counts_the_reviews_that_get_reviews_lists(partoo):
    daily = partoo.expected("review_metrics_daily", since="2024-03-01", until="2024-03-31")
    business = max(partoo.business_ids, key=lambda b: sum(r["reviews_count"] for r in daily if r["business_id"] == b))
    window = {"business__in": business, "per_page": 100}

    def listed() -> List[dict]:
        return partoo.ok("/reviews", update_date__gte="2024-03-01T00:00:00", update_date__lte="2024-03-31T23:59:59.999999", **window)["reviews"]

    def by_day() -> Dict[str, dict]:
        rows = partoo.ok("/review_analytics/metrics", metrics=FIVE, dimensions="day",
                         update_date__gte="2024-03-01", update_date__lte="2024-03-31", **window)["data"]
        return {r["dimension"]: r["metrics"] for r in rows}

    reviews, days = listed(), by_day()
    assert len(reviews) >= 3
    assert sum(m["reviews_count"] for m in days.values()) == len(reviews)
    # The test's records are the API's rows: one per business and UTC day with reviews.
    mine = [r for r in daily if r["business_id"] == business]
    assert {r["date"]: {k: r[k] for k in FIVE.split(",")} for r in mine} == days
    assert all(r["business_name"] and r["reply_time"]["total"] == r["reviews_count"] for r in mine)
    # One day read with dimensions=business gives that day's figures again.
    day = mine[0]["date"]
    rows = partoo.ok("/review_analytics/metrics", metrics=FIVE, dimensions="business", filter_date__gte=day,
                     filter_date__lte=day)["data"]
    row = next(r for r in rows if r["dimension"] == business)
    assert row["metrics"] == days[day] and sorted(row["dimension_info"]) == ["address_full", "city", "code", "zipcode"]
    # A deleted review leaves both (its update_date moves to now, and deleted reviews are not counted).
    partoo.control("delete_review", {"id": reviews[0]["id"]})
    assert len(listed()) == len(reviews) - 1
    assert sum(m["reviews_count"] for m in by_day().values()) == len(reviews) - 1
    partoo.control("restore_review", {"id": reviews[0]["id"]})


def test_a_window_without_reviews_has_no_rows_and_the_whole_organization_one(partoo):
    empty = partoo.ok("/review_analytics/metrics", metrics="reviews_count", dimensions="business",
                      update_date__gte="2019-01-01T00:00:00", update_date__lte="2019-12-31T23:59:59")
    assert empty == {"page": 1, "max_page": 0, "count": 0, "data": []}
    total = partoo.ok("/review_analytics/metrics", metrics="reviews_count,average_rating")
    assert total["count"] == 1 and total["data"][0]["dimension"] is None
    assert total["data"][0]["metrics"]["reviews_count"] == sum(r["reviews_count"] for r in partoo.expected("review_metrics_daily"))


def presence_days(partoo: Partoo, business: str) -> Dict[str, dict]:
    rows = partoo.ok("/presence_analytics/metrics", metrics=PRESENCE, dimensions="business,day", business__in=business,
                     filter_date__gte="2025-03-01", filter_date__lte="2025-03-31")["metrics"]
    return {r["date"]: {k: v for k, v in r.items() if k not in ("business_id", "date", "bucket")} for r in rows}


def test_presence_figures_of_the_last_five_days_grow_as_today_moves(partoo):
    business = partoo.business_ids[1]
    partoo.control("analytics_today", {"date": "2025-03-10"})
    before = presence_days(partoo, business)
    assert max(before) == "2025-03-10"  # a window ending after today is cut at today
    assert [{"business_id": business, "date": d, **m} for d, m in sorted(before.items())] == partoo.expected(
        "presence_metrics_daily", since="2025-03-01", until="2025-03-31", business__in=business)
    partoo.control("analytics_today", {"date": "2025-03-12"})
    after = presence_days(partoo, business)
    settled = [d for d in before if d <= "2025-03-05"]
    assert all(after[d] == before[d] for d in settled)
    unsettled = [d for d in before if d > "2025-03-05"]
    assert len(unsettled) == 5
    assert all(after[d][m] >= before[d][m] for d in unsettled for m in before[d])
    assert sum(after[d][m] for d in unsettled for m in after[d]) > sum(before[d][m] for d in unsettled for m in before[d])
    partoo.control("analytics_today", {"date": None})


def test_presence_rows_keyed_by_dimension_on_demand(partoo):
    partoo.control("analytics_today", {"date": "2025-03-10"})
    partoo.control("settings", {"presence_rows": "dimensions"})
    try:
        body = partoo.ok("/presence_analytics/metrics", metrics="call_clicks", dimensions="business,day",
                         filter_date__gte="2025-03-09", filter_date__lte="2025-03-10")
    finally:
        partoo.control("settings", {"presence_rows": "keys"})
        partoo.control("analytics_today", {"date": None})
    assert "metrics" not in body and body["count"] == 2 * len(partoo.business_ids)
    assert sorted(body["data"][0]) == ["day", "dimension", "dimension_name", "metrics"]
    assert [(r["day"], r["dimension"]) for r in body["data"]] == sorted((r["day"], r["dimension"]) for r in body["data"])


def keywords(partoo: Partoo, business: str, month: str) -> List[dict]:
    return partoo.ok("/presence_analytics/keywords", metrics="count,threshold", dimensions="business,keyword,month",
                     business__in=business, filter_date__gte=month, filter_date__lte=month)["keywords"]


def test_a_keyword_month_arrives_from_the_fifth_and_is_complete_on_the_tenth(partoo):
    business = partoo.business_ids[2]
    seen = {}
    for today in ("2025-03-04", "2025-03-05", "2025-03-09", "2025-03-10"):
        partoo.control("analytics_today", {"date": today})
        seen[today] = keywords(partoo, business, "2025-02-01")
    monthly = partoo.expected("presence_keywords_monthly", business__in=business, since="2025-02-01", until="2025-02-01")
    partoo.control("analytics_today", {"date": None})
    assert seen["2025-03-04"] == []
    assert seen["2025-03-05"] == seen["2025-03-09"]
    assert 0 < len(seen["2025-03-05"]) < len(seen["2025-03-10"])
    assert all(k in seen["2025-03-10"] for k in seen["2025-03-05"])
    full = seen["2025-03-10"]
    assert [str(k["keyword"]) for k in full] == sorted(str(k["keyword"]) for k in full)
    assert all((k["count"] is None) == (k["threshold"] == 15) and (k["count"] is None or k["count"] >= 15) for k in full)
    assert monthly == [{"business_id": business, "keyword": str(k["keyword"]), "date": "2025-02-01",
                        "count": k["count"], "threshold": k["threshold"]} for k in full]
    every = partoo.expected("presence_keywords_monthly")
    assert any(k["keyword"].isdigit() for k in every) and all(isinstance(k["keyword"], str) for k in every)


@pytest.mark.parametrize("path, query, field", [
    ("/review_analytics/metrics", {"metrics": "reviews_count", "dimensions": "business,day"}, "dimensions"),
    ("/review_analytics/metrics", {"metrics": "reviews_count,bogus"}, "metrics"),
    ("/review_analytics/metrics", {"metrics": "rank", "dimensions": "business"}, "order_by"),
    ("/presence_analytics/metrics", {"metrics": "call_clicks", "filter_date__gte": "2024-01-01", "filter_date__lte": "2025-02-04"},
     "filter_date__lte"),
    ("/presence_analytics/metrics", {"metrics": "call_clicks"}, "filter_date__lte"),  # from 2023-01-01: too long
    ("/presence_analytics/metrics", {"metrics": "call_clicks", "dimensions": "day,month", "filter_date__gte": "2025-01-01"},
     "dimensions"),
    ("/presence_analytics/keywords", {"metrics": "count", "dimensions": "business,keyword,month"}, "business__in"),
    ("/publisher_states", {"per_page": "101"}, "per_page"),
], ids=["two-review-dimensions", "unknown-metric", "rank-without-order_by", "401-day-presence-window",
        "presence-without-start", "two-time-dimensions", "keywords-without-one-business", "publisher_states-per_page"])
def test_what_a_client_must_not_ask_is_a_400(partoo, path, query, field):
    status, body = partoo.get(path, **query)
    assert status == 400 and field in body["errors"]["json"], body
    if field == "filter_date__lte":
        assert body == {"errors": {"json": {"filter_date__lte": "The period may not exceed 400 days."}}}


def test_keywords_with_two_businesses_are_a_400_and_a_400_day_window_is_served(partoo):
    two = ",".join(partoo.business_ids[:2])
    status, body = partoo.get("/presence_analytics/keywords", metrics="count", dimensions="keyword", business__in=two)
    assert status == 400 and body["errors"]["json"]["business__in"] == "business__in must be one business with the keyword dimension"
    partoo.control("analytics_today", {"date": "2025-03-10"})
    body = partoo.ok("/presence_analytics/metrics", metrics="call_clicks", dimensions="day",
                     filter_date__gte="2024-02-05", filter_date__lte="2025-03-10")
    partoo.control("analytics_today", {"date": None})
    assert body["count"] == 400 and body["max_page"] == 1


def test_publisher_states_come_five_a_page_without_max_page(partoo):
    pages = []
    for page in range(1, 5):
        body = partoo.ok("/publisher_states", page=page)
        assert sorted(body) == ["businesses", "count"] and body["count"] == len(body["businesses"])
        pages.append(body)
        if body["count"] < 5:
            break
    assert [p["count"] for p in pages] == [5, len(partoo.business_ids) - 5]
    rows = [{"business_id": bid, "publisher": name, "business_name": b["business_name"],
             "business_formatted_address": b["business_formatted_address"], **state}
            for p in pages for bid, b in p["businesses"].items() for name, state in b["publishers"].items()]
    assert rows == partoo.expected("publisher_states")
    assert {r["publisher"] for r in rows} >= {"google_my_business", "tomtom"}
    only = partoo.ok("/publisher_states", publishers="google_my_business", states="success", per_page=100)
    assert all(list(b["publishers"]) == ["google_my_business"] and b["publishers"]["google_my_business"]["state"] == "success"
               for b in only["businesses"].values())
    changed = partoo.control("set_publisher_state", {"business_id": partoo.business_ids[0], "publisher": "waze",
                                                     "state": "to_configure", "error_type": "USER_INPUT"})
    assert changed["state"] == "to_configure"
    assert {"business_id": partoo.business_ids[0], "publisher": "waze", "state": "to_configure", "error_type": "USER_INPUT"}.items() <= next(
        r for r in partoo.expected("publisher_states") if r["business_id"] == partoo.business_ids[0] and r["publisher"] == "waze").items()


def test_templates_are_a_bare_array_and_posts_feedback_are_search_pages(partoo):
    templates = partoo.ok("/messaging/templates", page=2, per_page=1)
    assert isinstance(templates, list) and templates == partoo.expected("message_templates")
    assert all(isinstance(json.loads(t["content"]), dict) for t in templates)
    posts = partoo.ok("/posts", per_page=100)
    assert posts["count"] == len(partoo.expected("posts")) and posts["max_page"] == 2
    bulks = {}
    for post in partoo.expected("posts"):
        if post["bulk_id"] is not None:
            bulks.setdefault(post["bulk_id"], set()).add(post["business_id"])
    assert bulks and all(len(b) > 1 for b in bulks.values())
    assert {p["post_type"] for p in partoo.expected("posts")} >= {"news", "event", "offer", "covid", "alert"}
    business = partoo.business_ids[3]
    gone = partoo.control("delete_posts_of_business", {"business_id": business})["deleted"]
    added = partoo.control("add_post", {"business_id": business})
    assert gone and partoo.ok("/posts", business__in=business)["posts"] == [p for p in partoo.expected("posts") if p["id"] == added["id"]]
    first = partoo.ok("/feedback/feedback_result", per_page=1)
    assert first["count"] == len(partoo.expected("feedback_results")) and first["max_page"] == first["count"]
    result = next(r for r in partoo.expected("feedback_results") if r["state"] == "not_treated")
    partoo.control("treat_feedback", {"id": result["id"]})
    again = next(r for r in partoo.expected("feedback_results") if r["id"] == result["id"])
    assert again["state"] == "treated" and len(again["comments"]) == len(result["comments"]) + 1
    assert partoo.ok("/feedback/feedback_form")["items"] == partoo.expected("feedback_forms")


FORBIDDEN_BY_KEY = {
    "no-presence": ["/presence_analytics/metrics", "/presence_analytics/keywords", "/publisher_states"],
    "no-posts": ["/posts"],
    "no-feedback": ["/feedback/feedback_result", "/feedback/feedback_form"],
    "no-messages": ["/messaging/templates"],
    "no-reviews": ["/review_analytics/metrics"],
    "publisher": ["/review_analytics/metrics"],
}
A_MONTH_AGO = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)).date().isoformat()
QUERIES = {"/presence_analytics/metrics": {"metrics": "call_clicks", "filter_date__gte": A_MONTH_AGO},
           "/presence_analytics/keywords": {"metrics": "count"}, "/review_analytics/metrics": {"metrics": "reviews_count"}}


@pytest.mark.parametrize("key", sorted(FORBIDDEN_BY_KEY))
def test_a_product_the_organization_lacks_is_a_403_on_its_endpoints_only(partoo, key):
    for path in sorted({p for paths in FORBIDDEN_BY_KEY.values() for p in paths}):
        status, body = partoo.get(path, key=key, **QUERIES.get(path, {}))
        if path in FORBIDDEN_BY_KEY[key]:
            assert (status, body) == (403, {"errors": {"authorization": "Operation not allowed"}}), (key, path)
        else:
            assert status == 200, (key, path, body)


def test_a_key_limited_to_one_business_may_not_name_another(partoo):
    other = partoo.business_ids[1]
    for path in ["/review_analytics/metrics", "/presence_analytics/metrics", "/presence_analytics/keywords", "/posts",
                 "/publisher_states", "/feedback/feedback_result"]:
        assert partoo.get(path, key="shop0", business__in=other, **QUERIES.get(path, {}))[0] == 403, path
    mine = partoo.ok("/review_analytics/metrics", key="shop0", metrics="reviews_count", dimensions="business")
    assert [r["dimension"] for r in mine["data"]] == [partoo.business_ids[0]]


def test_keys_faults_and_the_rate_limit_stand_before_every_new_path(partoo):
    paths = ["/review_analytics/metrics", "/presence_analytics/metrics", "/presence_analytics/keywords", "/posts",
             "/publisher_states", "/feedback/feedback_result", "/feedback/feedback_form", "/messaging/templates"]
    assert {partoo.get(p, key="wrong")[0] for p in paths} == {401}
    partoo.control("settings", {"fault_rate": 1.0, "faults": "500"})
    try:
        assert {partoo.get(p)[0] for p in paths} == {500}
    finally:
        partoo.control("settings", {"fault_rate": 0.0})
    partoo.control("reset_stats")
    partoo.control("settings", {"rate_limit": 1})
    try:
        assert [partoo.get(p)[0] for p in paths[:2]] == [400, 429]  # the first passes the limiter (and lacks metrics)
    finally:
        partoo.control("settings", {"rate_limit": 0})
        partoo.control("reset_stats")
