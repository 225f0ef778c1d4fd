"""presence_keywords_monthly's windows on the days where months turn: each window holds whole calendar months,
so that each (business, keyword, month) is read once in a sync whether Partoo filters a month by its first day or
by the range overlapping it; a month is read once it has arrived (the 10th of the next month); a quiet sync asks
nothing but the businesses, and the next sync after a month arrives asks that month only."""

from __future__ import annotations

import datetime as dt
from typing import List, Set, Tuple

import pytest
from airbyte_cdk.models import SyncMode

from .conftest import BASE, make_config, run_read, state_from
from .emulated_partoo import query_of
from .test_analytics_streams import today  # noqa: F401 - the fixture that freezes the manifest's clock

KEYWORDS = f"{BASE}/presence_analytics/keywords"
BUSINESSES = f"{BASE}/business/search"

# The 1st, the 5th to the 9th, the 10th and the last day of a month, February 29, December 31 and January 1,
# and the two days the clocks change in Europe.
DAYS = ["2026-12-01", "2026-12-05", "2026-12-07", "2026-12-09", "2026-12-10", "2026-11-30", "2028-02-29",
        "2026-12-31", "2027-01-01", "2027-01-10", "2027-03-28", "2027-10-31"]


def month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_between(first: dt.date, last: dt.date) -> List[dt.date]:
    out, current = [], month(first)
    while current <= last:
        out.append(current)
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return out


def last_arrived(day: dt.date) -> dt.date:
    """A month's keywords are complete on the 10th of the next month."""
    previous = month(month(day) - dt.timedelta(days=1))
    return previous if day.day >= 10 else month(previous - dt.timedelta(days=1))


def page(key: str, items: list) -> dict:
    return {key: items, "page": 1, "max_page": 1, "count": len(items)}


def serve(requests_mock) -> None:
    requests_mock.get(BUSINESSES, json=page("businesses", [{"id": "b1"}]))

    def rows(request, context):  # one keyword row per month asked, dated as Partoo dates a month
        gte, lte = (dt.date.fromisoformat(query_of(request)[k]) for k in ("filter_date__gte", "filter_date__lte"))
        return page("keywords", [{"keyword": "pain", "count": 3, "date": m.isoformat(), "business_id": "b1"}
                                 for m in months_between(gte, lte)])

    requests_mock.get(KEYWORDS, json=rows)


def windows(requests_mock) -> List[Tuple[dt.date, dt.date]]:
    asked = [query_of(r) for r in requests_mock.request_history if r.path.endswith("/keywords")]
    return sorted((dt.date.fromisoformat(q["filter_date__gte"]), dt.date.fromisoformat(q["filter_date__lte"]))
                  for q in asked)


def months_read(spans: List[Tuple[dt.date, dt.date]], overlapping: bool) -> List[dt.date]:
    """The months Partoo would answer for these windows: by first day, or by any day in the range."""
    out: List[dt.date] = []
    for gte, lte in spans:
        out += [m for m in months_between(gte, lte) if overlapping or m >= gte]
    return out


@pytest.mark.parametrize("day,start", [(day, ["2024-08-17", "2025-12-31", "2026-10-01"][i % 3]) for i, day in enumerate(DAYS)])
def test_each_arrived_month_is_read_once_in_whole_calendar_months(requests_mock, sleeps, today, day, start):
    now = today(day)
    serve(requests_mock)
    output = run_read(make_config(analytics_start_date=start), "presence_keywords_monthly", mode=SyncMode.incremental)
    spans = windows(requests_mock)
    assert all(gte.day == 1 and lte.day == 1 for gte, lte in spans), spans
    want = months_between(dt.date.fromisoformat(start), last_arrived(now))
    for overlapping in (False, True):
        assert months_read(spans, overlapping) == want, (overlapping, spans)
    keys: Set[Tuple[str, str, str]] = set()
    for message in output.records:
        row = message.record.data
        key = (row["business_id"], row["keyword"], row["date"])
        assert key not in keys, key  # no primary key twice in one sync
        keys.add(key)
    assert len(keys) == len(want)


@pytest.mark.parametrize("day", ["2026-12-01", "2026-12-09", "2026-12-10", "2026-11-30", "2028-02-29", "2026-12-31"])
def test_a_quiet_sync_asks_no_month_and_the_next_asks_only_the_month_that_arrived(requests_mock, sleeps, today, day):
    now = today(day)
    serve(requests_mock)
    config = make_config(analytics_start_date="2025-06-15")
    first = run_read(config, "presence_keywords_monthly", mode=SyncMode.incremental)
    requests_mock.reset_mock()
    run_read(config, "presence_keywords_monthly", mode=SyncMode.incremental,
             state=state_from(first, "presence_keywords_monthly"))
    assert windows(requests_mock) == []
    assert [r.path for r in requests_mock.request_history] == ["/v2/business/search"]
    requests_mock.reset_mock()
    arrived = month(last_arrived(now) + dt.timedelta(days=32))  # the month after the last one read
    today((month(arrived + dt.timedelta(days=32)) + dt.timedelta(days=9)).isoformat())  # its 10th of next month
    run_read(config, "presence_keywords_monthly", mode=SyncMode.incremental,
             state=state_from(first, "presence_keywords_monthly"))
    assert windows(requests_mock) == [(arrived, arrived)]
