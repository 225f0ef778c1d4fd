"""The daily analytics streams' windows and look-backs on the days where dates turn: the 1st, the 5th to the
10th, the last day of a month, February 29, December 31 and January 1, and the instants the clocks change in
Europe (01:00 UTC; the connector's days are UTC's). The manifest's clock is frozen there (`today`); the expected
windows are computed here with Python's own date arithmetic. (Keyword months on such days:
test_keyword_months.py.)"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Tuple

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.state_builder import StateBuilder

from .conftest import BASE, make_config, run_read
from .emulated_partoo import query_of
from .test_analytics_streams import today  # noqa: F401 - the fixture that freezes the manifest's clock

INC = SyncMode.incremental
REVIEW_METRICS = f"{BASE}/review_analytics/metrics"
PRESENCE = f"{BASE}/presence_analytics/metrics"
# The moment of the sync (noon UTC unless a time is given). Analytics start in the past of the real clock (a start
# date in the future is refused, by the machine's clock): the windows start at a saved day.
MOMENTS = ["2027-01-01", "2027-01-05", "2027-01-09", "2027-01-10", "2027-01-31", "2028-02-29", "2026-12-31",
           "2027-03-28T01:00:00", "2027-10-31T01:00:00"]
ONE_DAY = dt.timedelta(days=1)


def days(first: dt.date, last: dt.date) -> List[dt.date]:
    return [first + n * ONE_DAY for n in range((last - first).days + 1)]


def empty(key: str) -> Dict[str, Any]:
    return {"page": 1, "max_page": 1, "count": 0, key: []}


def windows(requests_mock: Any, start: str, end: str) -> List[Tuple[str, str]]:
    return sorted((query_of(r)[start], query_of(r)[end]) for r in requests_mock.request_history)


def windows_after(requests_mock: Any, today: Any, moment: str, saved_days_ago: int, stream: str, url: str,
                  list_key: str, bounds: Tuple[str, str]) -> Tuple[dt.date, List[Tuple[str, str]]]:
    """The day of `moment`, and the windows (`bounds`: their parameters) a sync of `stream` asks then, given
    the state a sync saved `saved_days_ago` days before."""
    day = today(moment)
    requests_mock.get(url, json=empty(list_key))
    saved = StateBuilder().with_stream_state(stream, {"date": str(day - saved_days_ago * ONE_DAY)}).build()
    run_read(make_config(analytics_start_date="2024-01-01"), stream, mode=INC, state=saved)
    return day, windows(requests_mock, *bounds)


@pytest.mark.parametrize("moment", MOMENTS)
def test_review_metrics_reread_30_days_before_the_saved_day_in_one_day_windows_up_to_tomorrow(requests_mock, sleeps, today, moment):
    day, asked = windows_after(requests_mock, today, moment, 1, "review_metrics_daily", REVIEW_METRICS, "data",
                               ("update_date__gte", "update_date__lte"))
    assert asked == [(f"{d}T00:00:00", f"{d + ONE_DAY}T00:00:00") for d in days(day - 31 * ONE_DAY, day)]


@pytest.mark.parametrize("moment", MOMENTS)
def test_presence_rereads_5_days_before_the_saved_day_in_30_day_windows_up_to_today(requests_mock, sleeps, today, moment):
    day, asked = windows_after(requests_mock, today, moment, 60, "presence_metrics_daily", PRESENCE, "metrics",
                               ("filter_date__gte", "filter_date__lte"))
    start = day - 65 * ONE_DAY
    assert asked == [(str(start), str(start + 29 * ONE_DAY)), (str(start + 30 * ONE_DAY), str(start + 59 * ONE_DAY)),
                     (str(start + 60 * ONE_DAY), str(day))]
