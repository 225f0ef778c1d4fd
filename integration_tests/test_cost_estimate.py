"""check's cost estimate against what a sync really sends: the line the check logs, then a first sync of every stream
and a second one right after, counted by the emulator per endpoint, at two sizes, one through each runtime (the
runtimes send the same requests, which test_check_runtimes.py and the read tests assert; each run here costs 10 to
20 s of make test's CPU). The figures per stream and the line's wording: unit_tests/test_cost_estimate.py."""

from __future__ import annotations

import datetime as dt
import re
from typing import Dict, Tuple

import pytest

from .conftest import ALL_STREAMS, ANALYTICS_STREAMS, catalog, run_connector

# After the 10th (February's keywords have arrived); the emulator's reviews run to that day, as an organization's
# do that gets reviews every day.
TODAY = dt.date(2027, 3, 15)
START = (TODAY - dt.timedelta(days=60)).isoformat()
SIZES = {
    "60 conversations, 6 businesses": ("--conversations", "60", "--businesses", "6", "--reviews", "3000"),
    "250 conversations, 120 businesses": ("--conversations", "250", "--businesses", "120", "--reviews", "6000",
                                          "--posts", "260", "--feedback-results", "230", "--users", "130"),
}
# Streams that share endpoints are compared together: each list stream reads /conversations; review_replies reads
# the reviews' pages; groups reads /sections then each section and group; presence_keywords_monthly lists the
# businesses first.
SHARED = {"messages": "conversations", "review_replies": "reviews", "groups": "group_sections",
          "presence_keywords_monthly": "businesses"}
ENDPOINTS = {"conversations": ("conversations", "messages"), "businesses": ("business/search", "presence_analytics/keywords"),
             "reviews": ("reviews",), "users": ("user/search",), "group_sections": ("sections",),
             "organizations": ("org/search",), "custom_fields": ("custom_fields",),
             "review_metrics_daily": ("review_analytics/metrics",), "presence_metrics_daily": ("presence_analytics/metrics",),
             "posts": ("posts",), "publisher_states": ("publisher_states",), "feedback_results": ("feedback/feedback_result",),
             "feedback_forms": ("feedback/feedback_form",), "message_templates": ("messaging/templates",)}


def estimated(line: str) -> Dict[str, Tuple[int, int]]:
    listed = line.split("first/incremental: ", 1)[1].split(". docs/", 1)[0]
    figures: Dict[str, Tuple[int, int]] = {}
    for name, first, quiet in re.findall(r"(\w+) ([\d,]+)/([\d,]+)", listed):
        group = SHARED.get(name, name)
        before = figures.get(group, (0, 0))
        figures[group] = (before[0] + int(first.replace(",", "")), before[1] + int(quiet.replace(",", "")))
    return figures


def sent(stats: Dict[str, int]) -> Dict[str, int]:
    """Requests per group of ENDPOINTS, from the emulator's count per path (/sections/1/groups/11 is group_sections')."""
    real = dict.fromkeys(ENDPOINTS, 0)
    for key, count in stats.items():
        path = key.split("/v2/", 1)[1] if key.startswith("requests /v2/") else None
        path = "sections" if path and path.startswith("sections/") else path
        real.update({group: real[group] + count for group, endpoints in ENDPOINTS.items() if path in endpoints})
    return real


def close(estimate: int, real: int) -> bool:
    """Within 10 %, or 2 requests on the smallest figures (a page more or less)."""
    return abs(estimate - real) <= max(2, 0.1 * real)


@pytest.mark.parametrize("runtime,size", [("package", "60 conversations, 6 businesses"),
                                          ("manifest-only", "250 conversations, 120 businesses")])
def test_the_checks_estimate_is_within_10_percent_of_a_first_and_a_second_sync_of_every_stream(
        runtime, size, emulator_factory, clock_at, tmp_path):
    clock_at(f"{TODAY}T12:00:00")
    emulator = emulator_factory(*SIZES[size], "--reviews-until", TODAY.isoformat())
    config = emulator.config(analytics_start_date=START, num_workers=8)
    check = run_connector(runtime, tmp_path, "check", config)
    assert check.of_type("CONNECTION_STATUS")[-1]["connectionStatus"]["status"] == "SUCCEEDED", check.stdout[-2000:]
    [line] = [m["log"]["message"] for m in check.of_type("LOG") if m["log"]["message"].startswith("Cost estimate")]
    figures = estimated(line)
    assert set(figures) == set(ENDPOINTS)
    streams = catalog(*ALL_STREAMS, *ANALYTICS_STREAMS, mode="incremental")
    state = None
    for sync, name in ((0, "first"), (1, "second")):
        emulator.control("reset_stats", {})
        read = run_connector(runtime, tmp_path, "read", config, catalog=streams, state=state, timeout=300)
        assert read.returncode == 0, read.stdout[-3000:]
        assert not [m for m in read.of_type("LOG") if m["log"]["message"].startswith("Cost estimate")]  # check's only
        state, stats = read.last_states(), emulator.control("stats")
        real = sent(stats)
        assert sum(real.values()) == stats["requests"]  # every endpoint belongs to a group
        wrong = {group: (figures[group][sync], real[group]) for group in ENDPOINTS if not close(figures[group][sync], real[group])}
        assert not wrong, f"{name} sync, (estimate, sent) per stream: {wrong}; {line}"
        total = sum(f[sync] for f in figures.values())
        assert abs(total - stats["requests"]) <= 0.1 * stats["requests"], (name, total, stats["requests"], line)
        if sync == 0:
            assert f"sends about {total:,} requests" in line
        else:
            assert f"with nothing new about {total:,} " in line
