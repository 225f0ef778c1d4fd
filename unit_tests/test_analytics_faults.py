"""Every fault kind on every endpoint family of #24, in a row on one request: the stream still loads exactly
the emulator's records, after as many retries (time is patched: no real waiting)."""

from __future__ import annotations

from typing import Any, Dict, List
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from airbyte_cdk.models import SyncMode

from .conftest import BASE, make_config, run_read
from .emulated_partoo import mount
from .test_analytics_against_emulator import expected, rows
from .test_analytics_streams import today  # noqa: F401  (the fixture)

FAULTS: List[Dict[str, Any]] = [
    {"status_code": 500, "json": {"errors": {"json": "Internal server error"}}},
    {"status_code": 502, "text": "<html><body><h1>502 Bad Gateway</h1></body></html>"},
    {"exc": requests.exceptions.ConnectionError("Connection reset by peer")},
    {"status_code": 200, "text": '{"data": [{"dimension": "b1", "metrics": {"re'},  # truncated JSON
    {"status_code": 200, "text": "<html><body>Maintenance</body></html>"},
    {"status_code": 429, "headers": {"Retry-After": "3"}, "json": {"errors": {"json": "Too many requests"}}},
]
FAMILIES = {
    "review_metrics_daily": "review_analytics/metrics", "presence_metrics_daily": "presence_analytics/metrics",
    "presence_keywords_monthly": "presence_analytics/keywords", "posts": "posts", "publisher_states": "publisher_states",
    "feedback_results": "feedback/feedback_result", "feedback_forms": "feedback/feedback_form",
    "message_templates": "messaging/templates",
}


# The emulator's records for the window read (analytics from 2025-03-01 to 2025-04-12, keywords of the
# months arrived by then).
QUERY = {"review_metrics_daily": {"since": "2025-03-01", "until": "2025-04-12"},
         "presence_metrics_daily": {"since": "2025-03-01", "until": "2025-04-12"},
         "presence_keywords_monthly": {"since": "2025-03-01"}}


def emulator_answer(areas):
    """The emulator's answer to a request (what mount() serves), as a requests-mock json callback."""

    def answer(request: Any, context: Any) -> Any:
        parts = urlsplit(request.url)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        context.status_code, body = areas.handle(parts.path, query, areas.caller("", None))
        return body

    return answer


@pytest.mark.parametrize("stream", sorted(FAMILIES))
def test_each_fault_kind_in_a_row_is_retried_and_nothing_is_lost_or_duplicated(requests_mock, sleeps, today, stream):
    areas = mount(requests_mock, "--analytics-today", "2025-04-12")
    today("2025-04-12")
    config = make_config(analytics_start_date="2025-03-01")
    incremental = stream in ("review_metrics_daily", "presence_metrics_daily", "presence_keywords_monthly")
    mode = SyncMode.incremental if incremental else SyncMode.full_refresh
    # The endpoint's first request meets every fault kind in turn; then the emulator answers.
    requests_mock.get(f"{BASE}/{FAMILIES[stream]}", [dict(f) for f in FAULTS] + [{"json": emulator_answer(areas)}])
    faulty = run_read(config, stream, mode=mode)
    assert not faulty.errors
    got, want = rows(faulty, stream), expected(areas, stream, **QUERY.get(stream, {}))
    assert want and got.keys() == want.keys()
    for key, row in want.items():
        assert {k: got[key].get(k) for k in row} == row, key
    assert any(3.0 <= wait <= 4.0 for wait in sleeps)  # Retry-After (3 s) honoured, on the patched clock
    assert len([wait for wait in sleeps if wait > 0]) >= len(FAULTS)  # a backoff for every fault
