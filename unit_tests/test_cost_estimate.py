"""check's cost estimate: one line, after its last endpoint, from what each endpoint's one page counted, at the
configured requests_per_minute; the figures per stream (docs/partoo.md, "What a sync costs"). Against the
emulator's request counts at two sizes, in both runtimes: integration_tests/test_cost_estimate.py."""

import datetime as dt
import re
from typing import Any, Dict

import pytest

from source_partoo.components import CHECKED as ENDPOINT_STREAMS
from source_partoo.components import _lasts, estimate_requests

from .conftest import CHECKED, make_config, serve_check


def counted_page(body: Any, count: int) -> Any:
    return {**body, "count": count} if isinstance(body, dict) else body


def serve(requests_mock: Any, counts: Dict[str, int], status: Dict[str, int] = None, **answers: Any) -> None:
    counted = {stream: {"json": counted_page(body, counts[stream])} for stream, (_, body) in CHECKED.items()
               if stream in counts and (status or {}).get(stream, 200) == 200}
    serve_check(requests_mock, status=status, **{**counted, **answers})


def estimate_lines(caplog) -> list:
    """The estimate lines check logged (in process, pytest's log capture holds them; the CLI prints them as LOG
    messages: integration_tests/test_cost_estimate.py)."""
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Cost estimate") and r.levelname == "INFO"]


def per_stream(line: str) -> Dict[str, tuple]:
    listed = line.split("first/incremental: ", 1)[1].split(". docs/", 1)[0]
    return {name: (int(first.replace(",", "")), int(quiet.replace(",", "")))
            for name, first, quiet in re.findall(r"(\w+) ([\d,]+)/([\d,]+)", listed)}


def test_check_logs_one_estimate_line_from_the_counts_its_pages_carry(cli, requests_mock, sleeps, caplog):
    serve(requests_mock, {"conversations": 12345, "businesses": 500, "reviews": 20000, "posts": 950})
    result = cli("check", make_config())
    assert result.connection_status == {"status": "SUCCEEDED"}
    assert len(requests_mock.request_history) == len(CHECKED)  # not one request more
    [line] = estimate_lines(caplog)
    assert line.startswith("Cost estimate: the API key sees about 12,345 conversations and about 500 businesses. A first sync "
                           "of the 18 streams it may read sends about ")
    figures = per_stream(line)
    assert figures["conversations"] == (124, 1)  # the list, newest first: the top page when nothing is new
    assert figures["messages"] == (124 + 12345, 2)  # its own read of the list, then each conversation
    assert figures["businesses"] == (5, 1)
    assert figures["reviews"] == figures["review_replies"] == (200, 1)
    assert figures["posts"] == (10, 10)  # full refresh
    assert figures["publisher_states"] == (6, 6)
    first, quiet = sum(f for f, _ in figures.values()), sum(q for _, q in figures.values())
    assert f"sends about {first:,} requests ({_lasts(first, 300)} at requests_per_minute 300)" in line
    assert f"with nothing new about {quiet:,} ({_lasts(quiet, 300)}; 246 more once every 24 h, the conversation list " \
           "read whole)" in line
    assert list(figures) == sorted(figures, key=lambda name: (-figures[name][0], name))  # the costliest first


def test_a_product_the_key_lacks_leaves_its_streams_out_of_the_estimate(cli, requests_mock, sleeps, caplog):
    serve(requests_mock, {"conversations": 5000, "businesses": 20}, status={"conversations": 403, "presence_metrics_daily": 403})
    result = cli("check", make_config())
    assert result.connection_status == {"status": "SUCCEEDED"}
    [line] = estimate_lines(caplog)
    assert "sees no conversations and about 20 businesses" in line and "of the 14 streams it may read" in line
    assert not {"conversations", "messages", "presence_metrics_daily", "presence_keywords_monthly"} & set(per_stream(line))


def test_the_estimate_is_at_the_configured_rate_while_the_check_never_waits_for_it(cli, requests_mock, sleeps, caplog):
    serve(requests_mock, {"conversations": 30000, "businesses": 10})
    cli("check", make_config(requests_per_minute=10))
    [line] = estimate_lines(caplog)
    assert "at requests_per_minute 10)" in line and " h " in line
    assert sleeps == []  # 13 requests, over a budget of 10 a minute: a check keeps at least Partoo's 300


def test_a_check_that_fails_logs_no_estimate(cli, requests_mock, sleeps, caplog):
    serve(requests_mock, {"conversations": 10}, status={"businesses": 403})
    result = cli("check", make_config())
    assert result.connection_status["status"] == "FAILED"
    assert estimate_lines(caplog) == []


def test_every_stream_is_estimated_by_the_endpoint_the_check_reads_for_it():
    streams = [name for names in ENDPOINT_STREAMS.values() for name in names]
    assert sorted(streams) == sorted(set(streams)) and len(streams) == 18
    assert sorted(path for path, _ in CHECKED.values()) == sorted(ENDPOINT_STREAMS)


TODAY = dt.date(2027, 3, 15)  # after the 10th: February's keywords have arrived


def everything(**counts: int) -> Dict[str, Any]:
    base = {path: 0 for path in ENDPOINT_STREAMS}
    return {**base, **{path: counts.get(path.strip("/").replace("/", "_"), 0) for path in base}, **(
        {"groups_per_section": counts["groups_per_section"]} if "groups_per_section" in counts else {})}


def test_the_analytics_cost_a_window_a_day_30_days_of_rows_a_request_and_a_year_of_keywords_a_business():
    counted = everything(business_search=120, reviews=90000)
    cost = estimate_requests({"analytics_start_date": "2027-01-14"}, counted, TODAY)  # 61 days, today included
    assert cost["review_metrics_daily"] == (61 * 2, 31 * 2)  # 1,475 reviews a day: all 120 businesses, 2 pages a day
    assert cost["presence_metrics_daily"] == (8 + 8, 2)  # 30 days, then 31 to today: 3,600 and 3,720 rows, 500 a page
    assert cost["presence_keywords_monthly"] == (2 + 120, 2)  # January and February: one window a business


def test_without_an_analytics_start_the_analytics_go_two_years_back():
    cost = estimate_requests({}, everything(business_search=3), TODAY)
    assert cost["review_metrics_daily"] == (731, 31)
    assert cost["presence_metrics_daily"] == (25, 1)  # 24 windows of 30 days and one of the 11 left
    assert cost["presence_keywords_monthly"] == (1 + 3 * 2, 1)  # March 2025 to February 2027: 2 windows a business


def test_business_ids_read_the_users_of_each_business():
    cost = estimate_requests({"business_ids": ["a", "b", "c"]}, everything(user_search=250), TODAY)
    assert cost["users"] == (9, 9)


def test_groups_cost_each_section_and_each_of_its_groups():
    cost = estimate_requests({}, everything(sections=3, groups_per_section=4), TODAY)
    assert cost["group_sections"] == (1, 1) and cost["groups"] == (1 + 3 + 12,) * 2


@pytest.mark.parametrize("sent,rate,said", [(299, 300, "under a minute"), (2136, 300, "about 7 min"),
                                            (101000, 300, "about 5 h 42 min"), (3000, 6000, "under a minute")])
def test_the_time_a_sync_takes_is_its_requests_at_the_budget_of_61_seconds(sent, rate, said):
    assert _lasts(sent, rate) == said


def test_a_check_limited_to_some_streams_logs_no_estimate(cli, requests_mock, sleeps, caplog):
    # the platform may name the streams a check reads: the others' costs are unknown, not refused
    serve(requests_mock, {"conversations": 500, "businesses": 20})
    result = cli("check", make_config(__airbyte_check_stream_names=["message_templates", "conversations"]))
    assert result.connection_status == {"status": "SUCCEEDED"} and len(requests_mock.request_history) == 2
    assert estimate_lines(caplog) == []


def test_with_start_date_the_first_sync_is_at_most_the_estimate(cli, requests_mock, sleeps, caplog):
    serve(requests_mock, {"conversations": 500, "businesses": 20})
    cli("check", make_config(start_date="2024-01-01"))
    [line] = estimate_lines(caplog)
    assert "it may read sends at most about " in line  # the check counted conversations and reviews before it too


def test_the_groups_of_a_section_are_counted_from_the_sections_only(cli, requests_mock, sleeps, caplog):
    businesses = {"businesses": [{"id": "b1", "modified": 1.0, "groups": [1, 2, 3, 4, 5]}], "count": 1}
    serve(requests_mock, {"conversations": 1}, businesses={"json": businesses},
          group_sections={"json": {"sections": [{"id": 3}], "count": 1}})
    cli("check", make_config())
    [line] = estimate_lines(caplog)
    assert per_stream(line)["groups"] == (2, 2)  # the list of sections and the one section: no group known


def test_an_analytics_start_days_ago_bounds_the_look_backs_of_an_incremental_sync():
    cost = estimate_requests({"analytics_start_date": "2027-03-05"}, everything(business_search=120, reviews=10), TODAY)
    assert cost["review_metrics_daily"] == (11, 11)  # 30 days' look-back, but nothing before the start
    assert cost["presence_metrics_daily"] == (3, 2)  # 11 days × 120 rows; then 6 days
    cost = estimate_requests({"analytics_start_date": "2027-03-15"}, everything(business_search=120), TODAY)
    assert cost["review_metrics_daily"] == (1, 1) and cost["presence_metrics_daily"] == (1, 1)


def test_the_line_counts_the_whole_list_read_once_every_full_list_every_hours(cli, requests_mock, sleeps, caplog):
    serve(requests_mock, {"conversations": 12345, "businesses": 5})
    cli("check", make_config(full_list_every_hours=6))
    [line] = estimate_lines(caplog)
    assert "; 246 more once every 6 h, the conversation list read whole)" in line  # each list stream, 123 pages more


@pytest.mark.parametrize("hours", [0, 1])
def test_with_full_list_every_hours_0_or_1_an_hourly_sync_reads_the_whole_list(hours):
    cost = estimate_requests({"full_list_every_hours": hours}, everything(conversations=12345), TODAY)
    assert cost["conversations"] == (124, 124) and cost["messages"] == (124 + 12345, 124 + 1)
