"""The analytics and report streams (#24): their windows and requests, the rows they make of Partoo's answers
in every documented shape, their saved positions and re-reads, and their pagination.

Time is frozen where the windows depend on today (`today` fixture): airbyte-cdk's Jinja macros read the
clock through their module's `datetime`, which the fixture replaces."""

from __future__ import annotations

import datetime as dt
import types
from typing import Any, Dict, List

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.declarative.interpolation import macros

from .conftest import BASE, make_config, run_read, state_from, last_state
from .emulated_partoo import query_of

INC = SyncMode.incremental
REVIEW_METRICS = f"{BASE}/review_analytics/metrics"
PRESENCE = f"{BASE}/presence_analytics/metrics"
KEYWORDS = f"{BASE}/presence_analytics/keywords"
BUSINESSES = f"{BASE}/business/search"
STATES = f"{BASE}/publisher_states"


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch):
    """Freeze the manifest's now_utc()/day_delta() at a given UTC date (its noon) or moment: `today("2026-12-03")`,
    `today("2027-03-28T01:00:00")`."""

    def freeze(day: str) -> dt.date:
        moment = dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc)
        moment = moment.replace(hour=12) if len(day) == 10 else moment

        class Frozen(dt.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> dt.datetime:  # type: ignore[override]
                return moment if tz is not None else moment.replace(tzinfo=None)

        monkeypatch.setattr(macros, "datetime", types.SimpleNamespace(**{**vars(dt), "datetime": Frozen}))
        return moment.date()

    return freeze


def page(key: str, rows: List[Dict[str, Any]], number: int = 1, max_page: int = 1) -> Dict[str, Any]:
    return {"page": number, "max_page": max_page, "count": len(rows), key: rows}


def review_row(business: str, count: int = 2) -> Dict[str, Any]:
    return {"dimension": business, "dimension_name": f"Shop {business}", "dimension_info": {"city": "Paris"},
            "metrics": {"reviews_count": count, "average_rating": 4.5, "rating_distribution": {"5": 1, "4": 1},
                        "reply_time": {"fast": 1, "slow": 0, "not_replied": 1, "total": 2}, "reply_means": {"total": 1}}}


def records(output, stream: str) -> List[Dict[str, Any]]:
    return [m.record.data for m in output.records if m.record.stream == stream]


# ---- review_metrics_daily -----------------------------------------------------------------------------

def test_review_metrics_ask_one_window_a_day_by_business_and_load_one_row_per_business_and_day(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(REVIEW_METRICS, json=page("data", [review_row("b1"), review_row("b2", 1)]))
    output = run_read(make_config(analytics_start_date="2026-12-01", business_ids=["b1", "b2"]), "review_metrics_daily", mode=INC)
    asked = sorted((query_of(r) for r in requests_mock.request_history), key=lambda q: q["update_date__gte"])
    assert [(q["update_date__gte"], q["update_date__lte"]) for q in asked] == [
        ("2026-12-01T00:00:00", "2026-12-02T00:00:00"), ("2026-12-02T00:00:00", "2026-12-03T00:00:00"),
        ("2026-12-03T00:00:00", "2026-12-04T00:00:00")]
    assert all(q["dimensions"] == "business" and q["business__in"] == "b1,b2" and q["per_page"] == "100" for q in asked)
    assert set(asked[0]["metrics"].split(",")) == {"average_rating", "rating_distribution", "reviews_count", "reply_time", "reply_means"}
    rows = records(output, "review_metrics_daily")
    assert sorted((r["business_id"], r["date"]) for r in rows) == [
        (b, f"2026-12-0{d}") for b in ("b1", "b2") for d in (1, 2, 3)]
    row = next(r for r in rows if r["business_id"] == "b1")
    assert row["business_name"] == "Shop b1" and row["reviews_count"] == 2 and row["average_rating"] == 4.5
    assert row["reply_time"] == {"fast": 1, "slow": 0, "not_replied": 1, "total": 2}  # object metrics kept whole
    assert not {"dimension", "dimension_name", "dimension_info", "metrics"} & set(row)
    assert last_state(output, "review_metrics_daily")["date"] == "2026-12-03"


def test_review_metrics_reread_the_last_30_days_on_each_sync(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(REVIEW_METRICS, json=page("data", [review_row("b1")]))
    first = run_read(make_config(analytics_start_date="2026-10-01"), "review_metrics_daily", mode=INC)
    assert requests_mock.call_count == 64  # 2026-10-01 .. 2026-12-03, one window a day
    assert last_state(first, "review_metrics_daily") == {"date": "2026-12-03"}
    today("2026-12-04")
    requests_mock.reset_mock()
    run_read(make_config(analytics_start_date="2026-10-01"), "review_metrics_daily", mode=INC,
             state=state_from(first, "review_metrics_daily"))
    days = sorted(query_of(r)["update_date__gte"][:10] for r in requests_mock.request_history)
    assert days[0] == "2026-11-03" and days[-1] == "2026-12-04" and len(days) == len(set(days)) == 32


def test_analytics_go_back_two_years_without_a_start(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(PRESENCE, json=page("metrics", []))
    run_read(make_config(), "presence_metrics_daily", mode=INC)
    windows = sorted((query_of(r)["filter_date__gte"], query_of(r)["filter_date__lte"]) for r in requests_mock.request_history)
    assert windows[0][0] == "2024-12-03" and windows[-1][1] == "2026-12-03" and len(windows) == 25


def test_analytics_start_at_start_date_when_no_analytics_start_date(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(REVIEW_METRICS, json=page("data", []))
    run_read(make_config(start_date="2026-11-30T08:00:00Z"), "review_metrics_daily", mode=INC)
    days = sorted(query_of(r)["update_date__gte"][:10] for r in requests_mock.request_history)
    assert days == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"]


def test_review_metrics_follow_max_page_not_short_pages(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(REVIEW_METRICS, [{"json": page("data", [review_row("b1")], 1, 2)},
                                       {"json": page("data", [review_row("b2")], 2, 2)}])
    output = run_read(make_config(analytics_start_date="2026-12-03"), "review_metrics_daily", mode=INC)
    assert [query_of(r)["page"] for r in requests_mock.request_history] == ["1", "2"]
    assert sorted(r["business_id"] for r in records(output, "review_metrics_daily")) == ["b1", "b2"]


@pytest.mark.parametrize("value", ["31/01/2024", "2024-02-30", "2024-01-31T00:00:00Z"])
def test_a_bad_analytics_start_date_is_one_config_error_sentence(value):
    output = run_read(make_config(analytics_start_date=value), "review_metrics_daily", mode=INC, expecting_exception=True)
    assert [e.trace.error.message for e in output.errors] == [
        "Set analytics_start_date to a date such as 2024-01-31, or leave it empty to start analytics at "
        "start_date (else two years back)."]
    assert output.errors[0].trace.error.failure_type.value == "config_error"


# ---- presence_metrics_daily ---------------------------------------------------------------------------

PRESENCE_ROW = {"business_id": "b1", "date": "2026-11-20", "bucket": "day", "call_clicks": 3, "website_clicks": 1}


@pytest.mark.parametrize("body", [
    page("metrics", [PRESENCE_ROW]),  # flat rows under metrics, keyed like the keywords sibling (the emulator's)
    page("data", [{"dimension": "b1", "dimension_name": "Shop", "day": "2026-11-20", "metrics": {"call_clicks": 3, "website_clicks": 1}}]),
    page("data", [{"dimensions": {"business": "b1", "day": "2026-11-20T00:00:00"}, "metrics": {"call_clicks": 3, "website_clicks": 1}}]),
    page("metrics", [{"business": "b1", "dimension_day": "2026-11-20", "call_clicks": 3, "website_clicks": 1}]),
], ids=["flat-under-metrics", "dimension-under-data", "dimensions-object", "dimension-keys"])
def test_presence_rows_in_every_documented_shape_become_one_row_per_business_and_day(requests_mock, sleeps, today, body):
    today("2026-12-03")
    requests_mock.get(PRESENCE, json=body)
    output = run_read(make_config(analytics_start_date="2026-11-20"), "presence_metrics_daily", mode=INC)
    rows = records(output, "presence_metrics_daily")
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("business_id", "date", "call_clicks", "website_clicks")} == {
        "business_id": "b1", "date": "2026-11-20", "call_clicks": 3, "website_clicks": 1}
    assert not {"metrics", "dimensions", "dimension", "bucket", "day", "business"} & set(rows[0])


def test_presence_asks_30_day_windows_by_business_and_day_in_pages_of_500(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(PRESENCE, json=page("metrics", []))
    run_read(make_config(analytics_start_date="2026-10-01"), "presence_metrics_daily", mode=INC)
    asked = sorted((query_of(r) for r in requests_mock.request_history), key=lambda q: q["filter_date__gte"])
    assert [(q["filter_date__gte"], q["filter_date__lte"]) for q in asked] == [
        ("2026-10-01", "2026-10-30"), ("2026-10-31", "2026-11-29"), ("2026-11-30", "2026-12-03")]
    assert all(q["dimensions"] == "business,day" and q["per_page"] == "500" for q in asked)
    assert len(asked[0]["metrics"].split(",")) == 7


def test_presence_rereads_the_last_5_days(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(PRESENCE, json=page("metrics", [dict(PRESENCE_ROW, date="2026-12-03")]))
    first = run_read(make_config(analytics_start_date="2026-11-20"), "presence_metrics_daily", mode=INC)
    today("2026-12-05")
    requests_mock.reset_mock()
    run_read(make_config(analytics_start_date="2026-11-20"), "presence_metrics_daily", mode=INC,
             state=state_from(first, "presence_metrics_daily"))
    asked = [query_of(r) for r in requests_mock.request_history]
    assert [(q["filter_date__gte"], q["filter_date__lte"]) for q in asked] == [("2026-11-28", "2026-12-05")]


def test_a_presence_row_without_a_date_stops_the_sync_instead_of_loading_a_wrong_day(requests_mock, sleeps, today):
    today("2026-12-03")
    requests_mock.get(PRESENCE, json=page("metrics", [{"business_id": "b1", "call_clicks": 3}]))
    output = run_read(make_config(analytics_start_date="2026-11-20"), "presence_metrics_daily", mode=INC, expecting_exception=True)
    assert not records(output, "presence_metrics_daily")
    assert any("analytics row without a date" in e.trace.error.message for e in output.errors)


# ---- presence_keywords_monthly ------------------------------------------------------------------------

@pytest.mark.parametrize("day,last_month", [("2026-12-09", "2026-10-01"), ("2026-12-10", "2026-11-01"), ("2027-01-03", "2026-11-01")])
def test_keywords_are_read_per_business_once_their_month_has_arrived(requests_mock, sleeps, today, day, last_month):
    today(day)
    requests_mock.get(BUSINESSES, json=page("businesses", [{"id": "b1"}, {"id": "b2"}]))
    requests_mock.get(KEYWORDS, json=page("keywords", []))
    run_read(make_config(analytics_start_date="2026-08-17"), "presence_keywords_monthly", mode=INC)
    asked = [query_of(r) for r in requests_mock.request_history if r.path.endswith("/keywords")]
    assert sorted(q["business__in"] for q in asked) == ["b1", "b2"]  # one business per request, as Partoo requires
    # calendar months, from the first day of the month of analytics_start_date to the first day of the last one
    assert {(q["filter_date__gte"], q["filter_date__lte"]) for q in asked} == {("2026-08-01", last_month)}
    assert all(q["dimensions"] == "business,keyword,month" and q["metrics"] == "count,threshold" for q in asked)


def test_keywords_rows_have_string_keywords_and_a_month_is_not_read_twice(requests_mock, sleeps, today):
    today("2026-12-10")
    requests_mock.get(BUSINESSES, json=page("businesses", [{"id": "b1"}]))
    requests_mock.get(KEYWORDS, json=page("keywords", [
        {"keyword": 123, "count": None, "threshold": 15, "date": "2026-11-01", "bucket": "month", "business_id": "b1"},
        {"keyword": "boulangerie", "count": 40, "threshold": None, "date": "2026-11-01", "bucket": "month"}]))
    first = run_read(make_config(analytics_start_date="2026-11-01"), "presence_keywords_monthly", mode=INC)
    rows = records(first, "presence_keywords_monthly")
    assert sorted((r["business_id"], r["keyword"], r["date"], r.get("count")) for r in rows) == [
        ("b1", "123", "2026-11-01", None), ("b1", "boulangerie", "2026-11-01", 40)]
    requests_mock.reset_mock()
    today("2026-12-28")  # November was read once it had arrived: nothing more until December arrives
    run_read(make_config(analytics_start_date="2026-11-01"), "presence_keywords_monthly", mode=INC,
             state=state_from(first, "presence_keywords_monthly"))
    assert [r.path for r in requests_mock.request_history] == ["/v2/business/search"]
    today("2027-01-10")
    requests_mock.reset_mock()
    run_read(make_config(analytics_start_date="2026-11-01"), "presence_keywords_monthly", mode=INC,
             state=state_from(first, "presence_keywords_monthly"))
    asked = [query_of(r) for r in requests_mock.request_history if r.path.endswith("/keywords")]
    # one request, for the month that arrived only: November is not read again
    assert [(q["filter_date__gte"], q["filter_date__lte"]) for q in asked] == [("2026-12-01", "2026-12-01")]


# ---- publisher_states ---------------------------------------------------------------------------------

def listing_page(ids: List[str]) -> Dict[str, Any]:
    return {"businesses": {b: {"business_id": b, "business_name": f"Shop {b}", "business_formatted_address": "1 rue",
                               "publishers": {"google_my_business": {"state": "success", "error_type": None, "url_on_publisher": "u"},
                                              "waze": {"state": "new_state", "error_type": "SOMETHING_NEW", "url_on_publisher": None}}}
                           for b in ids}, "count": len(ids)}


def ids(start: int, count: int) -> List[str]:
    return [f"b{n}" for n in range(start, start + count)]


@pytest.mark.parametrize("sizes,requests", [
    ([100, 100, 30], 3),  # per_page honoured: a short page ends the list
    ([60, 0], 2),  # a short first page is followed by one more request (per_page might have been ignored)
    ([5, 5, 5, 2], 4),  # per_page ignored (Partoo's default is 5): pages of 5 until a shorter one
    ([5, 5, 0], 3),
])
def test_publisher_states_page_until_a_short_or_empty_page(requests_mock, sleeps, sizes, requests):
    bodies, start = [], 0
    for size in sizes:
        bodies.append({"json": listing_page(ids(start, size))})
        start += size
    requests_mock.get(STATES, bodies)
    output = run_read(make_config(), "publisher_states")
    assert requests_mock.call_count == requests
    assert [query_of(r)["page"] for r in requests_mock.request_history] == [str(p) for p in range(1, requests + 1)]
    rows = records(output, "publisher_states")
    assert len(rows) == 2 * sum(sizes) and len({(r["business_id"], r["publisher"]) for r in rows}) == len(rows)
    waze = next(r for r in rows if r["publisher"] == "waze")
    assert waze["state"] == "new_state" and waze["error_type"] == "SOMETHING_NEW"  # open enums


def test_publisher_states_stop_with_an_error_on_a_page_that_repeats(requests_mock, sleeps):
    requests_mock.get(STATES, json=listing_page(ids(0, 5)))
    output = run_read(make_config(), "publisher_states", expecting_exception=True)
    assert requests_mock.call_count == 2
    assert any("does not advance" in e.trace.error.message for e in output.errors)


# ---- full-refresh reports: posts, feedback, templates -------------------------------------------------

REPORTS = {
    "posts": (f"{BASE}/posts", page("posts", [{"id": 7, "post_type": "alert", "created_at": "2024-01-01T10:00:00+02:00"}]),
              "Partoo's Posts product"),
    "feedback_results": (f"{BASE}/feedback/feedback_result", page("items", [{"id": 8, "state": "escalated", "created": "2024-01-01T10:00:00+02:00"}]),
                         "Feedback Management"),
    "feedback_forms": (f"{BASE}/feedback/feedback_form", page("items", [{"id": 9, "display_name": "NPS"}]), "Feedback Management"),
    "message_templates": (f"{BASE}/messaging/templates", [{"id": 10, "title": "Hello", "created_at": "2024-01-01 10:00:00+00:00"}],
                          "Messages product"),
}


@pytest.mark.parametrize("stream", sorted(REPORTS))
def test_each_report_stream_loads_its_records(requests_mock, sleeps, stream):
    url, body, _ = REPORTS[stream]
    requests_mock.get(url, json=body)
    output = run_read(make_config(business_ids=["b1"]), stream)
    rows = records(output, stream)
    assert [r["id"] for r in rows] == [(body if isinstance(body, list) else next(v for v in body.values() if isinstance(v, list)))[0]["id"]]
    assert requests_mock.call_count == 1
    if stream in ("posts", "feedback_results"):
        assert query_of(requests_mock.request_history[0])["business__in"] == "b1"
    if stream == "posts":
        assert rows[0]["created_at_utc"] == "2024-01-01T08:00:00.000000+00:00"


@pytest.mark.parametrize("stream,url,product", [
    ("review_metrics_daily", REVIEW_METRICS, "Review Management"),
    ("presence_metrics_daily", PRESENCE, "Presence"),
    ("publisher_states", STATES, "Presence"),
    *[(s, REPORTS[s][0], REPORTS[s][2]) for s in sorted(REPORTS)],
])
def test_a_product_the_organization_lacks_skips_its_stream_with_a_warning(requests_mock, sleeps, today, stream, url, product):
    today("2026-12-03")
    requests_mock.get(url, status_code=403, json={"errors": {"authorization": "Operation not allowed"}})
    output = run_read(make_config(analytics_start_date="2026-12-03"), stream, mode=INC if "metrics" in stream else SyncMode.full_refresh)
    assert not output.errors and not output.records
    warnings = [m.log.message for m in output.logs if m.log.level.value == "WARN"]
    assert any(product in w and stream in w for w in warnings), warnings
