"""The analytics and report streams (#24) read from the emulator's own data (partoo_emulator, in process):
exact aggregates, the re-reads of figures that change, and idempotent re-syncs (the same primary keys)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from airbyte_cdk.models import SyncMode

from .conftest import make_config, run_read, state_from
from .emulated_partoo import mount, requests_to
from .test_analytics_streams import today  # noqa: F401  (the fixture)

INC = SyncMode.incremental
KEYS = {"review_metrics_daily": ("business_id", "date"), "presence_metrics_daily": ("business_id", "date"),
        "presence_keywords_monthly": ("business_id", "keyword", "date"), "publisher_states": ("business_id", "publisher"),
        "posts": ("id",), "feedback_results": ("id",), "feedback_forms": ("id",), "message_templates": ("id",)}


def rows(output, stream: str) -> Dict[tuple, Dict[str, Any]]:
    """The stream's records by primary key; a key read twice in one sync fails the test."""
    out: Dict[tuple, Dict[str, Any]] = {}
    for message in output.records:
        if message.record.stream == stream:
            key = tuple(message.record.data[k] for k in KEYS[stream])
            assert key not in out, f"{stream} emitted {key} twice"
            out[key] = message.record.data
    return out


def expected(areas, stream: str, **query: str) -> Dict[tuple, Dict[str, Any]]:
    # The connector omits null fields (airbyte-cdk's serializer), so the expected rows do too.
    return {tuple(r[k] for k in KEYS[stream]): {k: v for k, v in r.items() if v is not None}
            for r in areas.expected(stream, query)}


def test_review_metrics_are_the_emulators_reviews_counted_per_business_and_day(requests_mock, sleeps, today):
    areas = mount(requests_mock)
    today("2024-03-31")
    output = run_read(make_config(analytics_start_date="2024-03-01"), "review_metrics_daily", mode=INC)
    got, want = rows(output, "review_metrics_daily"), expected(areas, "review_metrics_daily", since="2024-03-01", until="2024-03-31")
    assert want and got.keys() == want.keys()
    for key, row in want.items():
        assert {k: got[key].get(k) for k in row} == row, key
    # a business's month: the sum of its days is the reviews GET /reviews lists for that month
    business = next(iter(want))[0]
    reviews = [r for r in areas.expected("reviews", {"business__in": business})
               if r["state"] != "deleted" and "2024-03-01" <= _utc_day(r["update_date"] or r["date"]) <= "2024-03-31"]
    assert sum(r["reviews_count"] for (b, _), r in got.items() if b == business) == len(reviews)


def _utc_day(value: str) -> str:
    import datetime as dt

    return dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc).date().isoformat()


def test_presence_metrics_match_the_emulator_and_the_last_days_are_read_again_as_they_settle(requests_mock, sleeps, today):
    areas = mount(requests_mock, "--analytics-today", "2024-03-31")
    today("2024-03-31")
    first = run_read(make_config(analytics_start_date="2024-01-01"), "presence_metrics_daily", mode=INC)
    got = rows(first, "presence_metrics_daily")
    assert got == expected(areas, "presence_metrics_daily", since="2024-01-01", until="2024-03-31")
    settling = got[(next(iter(got))[0], "2024-03-30")]
    # two days later: the last 5 days of the first sync have grown, and this sync reads them again
    areas.control("analytics_today", {"date": "2024-04-02"})
    today("2024-04-02")
    requests_mock.reset_mock()
    second = run_read(make_config(analytics_start_date="2024-01-01"), "presence_metrics_daily", mode=INC,
                      state=state_from(first, "presence_metrics_daily"))
    again = rows(second, "presence_metrics_daily")
    assert min(d for _, d in again) == "2024-03-26" and max(d for _, d in again) == "2024-04-02"
    assert again == expected(areas, "presence_metrics_daily", since="2024-03-26", until="2024-04-02")
    assert again[(next(iter(got))[0], "2024-03-30")]["call_clicks"] >= settling["call_clicks"]
    assert len(requests_to(requests_mock, "/presence_analytics/metrics")) == 1


def test_presence_rows_in_the_dimension_shape_give_the_same_rows(requests_mock, sleeps, today):
    areas = mount(requests_mock, "--analytics-today", "2024-03-31", "--presence-rows", "dimensions")
    today("2024-03-31")
    output = run_read(make_config(analytics_start_date="2024-03-20"), "presence_metrics_daily", mode=INC)
    got = {k: {f: v for f, v in r.items() if f != "business_name"} for k, r in rows(output, "presence_metrics_daily").items()}
    assert got == expected(areas, "presence_metrics_daily", since="2024-03-20", until="2024-03-31")


def test_keywords_match_the_emulator_per_business_and_month_once_arrived(requests_mock, sleeps, today):
    areas = mount(requests_mock, "--analytics-today", "2024-04-12")
    today("2024-04-12")
    output = run_read(make_config(analytics_start_date="2024-01-15"), "presence_keywords_monthly", mode=INC)
    got = rows(output, "presence_keywords_monthly")
    want = expected(areas, "presence_keywords_monthly", since="2024-01-01", until="2024-03-01")
    assert want and got == want
    assert {d for _, _, d in got} == {"2024-01-01", "2024-02-01", "2024-03-01"}
    businesses = {b for b, _, _ in got}
    assert len(requests_to(requests_mock, "/presence_analytics/keywords")) == len(businesses)  # one window each


@pytest.mark.parametrize("stream", ["publisher_states", "posts", "feedback_results", "feedback_forms", "message_templates"])
def test_each_report_is_the_emulators_and_a_second_sync_has_the_same_keys(requests_mock, sleeps, stream):
    areas = mount(requests_mock)
    first = rows(run_read(make_config(), stream), stream)
    want = expected(areas, stream)
    assert want and first.keys() == want.keys()
    for key, row in want.items():
        assert {k: first[key].get(k) for k in row} == row, key
    assert rows(run_read(make_config(), stream), stream).keys() == first.keys()


def test_a_resync_of_review_metrics_gives_the_same_keys(requests_mock, sleeps, today):
    mount(requests_mock)
    today("2024-03-31")
    config = make_config(analytics_start_date="2024-03-01")
    first = rows(run_read(config, "review_metrics_daily", mode=INC), "review_metrics_daily")
    second = rows(run_read(config, "review_metrics_daily", mode=INC), "review_metrics_daily")
    assert first and first == second


def test_a_key_limited_to_businesses_reads_only_their_analytics(requests_mock, sleeps, today):
    areas = mount(requests_mock, "--analytics-today", "2024-03-31")
    today("2024-03-31")
    some: List[str] = [b["id"] for b in areas.expected("businesses", {})][:2]
    output = run_read(make_config(analytics_start_date="2024-03-25", business_ids=some), "presence_metrics_daily",
                      "presence_keywords_monthly", mode=INC)
    assert {b for b, _ in rows(output, "presence_metrics_daily")} == set(some)
    assert {b for b, _, _ in rows(output, "presence_keywords_monthly")} <= set(some)
