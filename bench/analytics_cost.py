"""Request cost of the analytics and report streams (issue #24): what a first sync, then a sync right after it
(the same-day equivalent of a daily sync), of the 8 new streams asks of Partoo's quota (300 requests a minute
per organization), per endpoint. Prints figures (JSON); never passes or fails, on time or on cost.

    python -m bench.analytics_cost                      # 500 businesses, two years of analytics (a few minutes)
    python -m bench.analytics_cost --quick              # 50 businesses: a smoke run
    python -m bench.analytics_cost --businesses N --reviews N --posts N --feedback-results N
    python -m bench.analytics_cost --runtime package    # the `source-partoo` program instead of airbyte-cdk's
                                                        # source-declarative-manifest (the same requests)
    python -m bench.analytics_cost --formulas-only      # the real organization's figures, no emulator

The streams: review_metrics_daily, presence_metrics_daily, presence_keywords_monthly (incremental on their
day), posts, publisher_states, feedback_results, feedback_forms, message_templates (full refresh). Against
one emulator of B businesses (default 500) whose analytics start two years before today (the connector's
default `analytics_start_date`: today - 730 days; its windows end at the real today, UTC), the connector
(`requests_per_minute` --rate, 6,000 by default, the emulator limited to the same rate so that a 429 would
show) runs:
1. first:  `read` of the 8 streams without state;
2. second: `read` of the 8 streams given the first one's final state, right after it.
For each: exit code, wall time, the connector's CPU and peak RSS, records per stream, 429s, and requests per
endpoint (the emulator's counts, reset before each sync), each against the formula below computed from the
emulator's own data (`expected`: the days and businesses with reviews, the keyword rows per business and
month) and the connector's windows; and the minutes each sync costs at Partoo's 300 requests a minute
(requests ÷ 300; the connector's budget counts them in windows of 61 s). At 300 a minute the first sync
would take its requests ÷ 300 minutes: the run at --rate measures the requests, not the wait.

The formulas (B businesses, today T, analytics start S = T - 730 days, per_page 100 on the search endpoints,
500 on the presence ones):
- review_metrics_daily: one-day windows on the reviews' update date, S .. T (731), each
  max(1, ceil(businesses with reviews updated that day / 100)) requests; the next sync starts 30 days before
  the saved date, the last day that had a review (not the sync's end): T - saved + 31 windows.
- presence_metrics_daily: 30-day windows S .. T, each ceil(days × B / 500) pages (a row per business and
  day); the next sync re-reads from 5 days before the saved date (T when Partoo has today's row):
  ceil(6 × B / 500).
- presence_keywords_monthly: per business, 365-day windows from the day before S's month to the first day
  of the last month arrived (the 10th of the next month passed), each ceil(rows / 500) pages (rows: the
  keywords of its months); plus ceil(B / 100) pages of /business/search (the partitions) on every sync; a
  sync with no newly arrived month asks no keywords.
- posts, feedback_results, feedback_forms: ceil(records / 100) pages (at least 1) on every sync.
- publisher_states: pages of 100 businesses until an empty page or a short one after a longer one:
  floor(B / 100) + 1 (2 under 100 businesses: a short first page is followed by one more request).
- message_templates: 1.

`real_organization()` applies the same formulas to a real organization (--real-* options: 500 businesses,
50 reviews a day, 30 keywords a business a month, 2,000 posts, 10,000 feedback results by default): its
first sync, a daily sync, an hourly sync, and the sync that reads a newly arrived keyword month.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from integration_tests.conftest import ANALYTICS_STREAMS, Emulator, catalog

from bench.runtimes import WRAPPER, connector_command, read_files

QUOTA = 300  # Partoo's requests a minute per organization
RATE = 6000  # the connector's requests_per_minute here (the spec's maximum)
PER_PAGE = 100  # search endpoints, publisher_states
PRESENCE_PER_PAGE = 500  # presence metrics and keywords
ANALYTICS_DAYS = 730  # the default analytics_start_date: today - 730 days
REVIEW_LOOKBACK = 30
PRESENCE_STEP, PRESENCE_LOOKBACK = 30, 5
KEYWORD_STEP = 365
FEEDBACK_FORMS = 3  # the emulator's forms
ENDPOINTS = {  # the emulator's request counter of each stream's endpoint
    "review_metrics_daily": "/v2/review_analytics/metrics",
    "presence_metrics_daily": "/v2/presence_analytics/metrics",
    "presence_keywords_monthly": "/v2/presence_analytics/keywords",
    "business_partitions": "/v2/business/search",  # presence_keywords_monthly's parents
    "posts": "/v2/posts",
    "publisher_states": "/v2/publisher_states",
    "feedback_results": "/v2/feedback/feedback_result",
    "feedback_forms": "/v2/feedback/feedback_form",
    "message_templates": "/v2/messaging/templates",
}


# -- the connector's windows (manifest.yaml), as dates ------------------------------------------------------
def day_windows(start: dt.date, end: dt.date, step: int) -> List[Tuple[dt.date, dt.date]]:
    """airbyte-cdk's windows of `step` days with a granularity of one day: [start, start + step - 1], ...,
    the last one cut at `end`."""
    out, cursor = [], start
    while cursor <= end:
        out.append((cursor, min(cursor + dt.timedelta(days=step - 1), end)))
        cursor += dt.timedelta(days=step)
    return out


def keyword_bounds(today: dt.date, analytics_start: dt.date) -> Tuple[dt.date, dt.date]:
    """presence_keywords_monthly's start (the day before the first month) and end (the first day of the last
    month arrived: last month from the 10th on, else the month before it)."""
    start = analytics_start.replace(day=1) - dt.timedelta(days=1)
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    end = last_month if today.day >= 10 else (last_month - dt.timedelta(days=1)).replace(day=1)
    return start, end


def pages(rows: int, per_page: int = PER_PAGE) -> int:
    """Requests of a paged read that stops at max_page: one even when empty."""
    return max(1, math.ceil(rows / per_page))


def publisher_pages(businesses: int) -> int:
    """Pages of 100 until an empty page, or a short one after a longer one (ShortPagePagination)."""
    return 2 if businesses < PER_PAGE else businesses // PER_PAGE + 1


# -- the formulas against the emulator's data --------------------------------------------------------------
def review_requests(businesses_by_day: Dict[str, int], first: dt.date, today: dt.date) -> int:
    """One-day windows from `first` to today, each max(1, ceil(businesses with reviews that day / 100))."""
    return sum(pages(businesses_by_day.get((first + dt.timedelta(days=n)).isoformat(), 0))
               for n in range((today - first).days + 1))


def presence_requests(businesses: int, first: dt.date, today: dt.date, until: Optional[dt.date] = None) -> int:
    """30-day windows from `first` to today, each ceil(rows / 500): a row per business and day up to `until`
    (the emulator's analytics today, the real one by default)."""
    until = min(until or today, today)
    return sum(pages(max(0, (min(end, until) - start).days + 1) * businesses, PRESENCE_PER_PAGE)
               for start, end in day_windows(first, today, PRESENCE_STEP))


def keyword_requests(rows_by_business: Dict[str, List[str]], starts: Dict[str, dt.date], end: dt.date) -> Tuple[int, int]:
    """(requests, windows): per business, windows of 365 days from its start to `end`, each ceil(rows / 500)."""
    requests = windows = 0
    for business, start in starts.items():
        dates = rows_by_business.get(business, [])
        for low, high in day_windows(start, end, KEYWORD_STEP):
            windows += 1
            requests += pages(sum(1 for d in dates if low.isoformat() <= d <= high.isoformat()), PRESENCE_PER_PAGE)
    return requests, windows


class Data:
    """What the formulas need of the emulator's organization, from its `expected` records."""

    def __init__(self, emulator: Emulator, businesses: int, posts: int, feedback_results: int,
                 since: dt.date, analytics_today: Optional[str] = None) -> None:
        self.businesses, self.posts, self.feedback_results = businesses, posts, feedback_results
        self.presence_until = dt.date.fromisoformat(analytics_today) if analytics_today else None
        review_rows = emulator.expected("review_metrics_daily", since=since.isoformat())
        self.review_businesses_by_day = Counter(r["date"] for r in review_rows)
        self.review_metric_rows = len(review_rows)
        days = sorted(self.review_businesses_by_day)
        self.review_days = (days[0], days[-1]) if days else None
        every = sorted({r["date"] for r in emulator.expected("review_metrics_daily")})
        self.all_review_days = (every[0], every[-1]) if every else None
        self.keywords_by_business: Dict[str, List[str]] = defaultdict(list)
        keyword_rows = emulator.expected("presence_keywords_monthly")
        for row in keyword_rows:
            self.keywords_by_business[row["business_id"]].append(row["date"])
        self.keyword_rows = len(keyword_rows)
        self.business_ids = sorted({b["id"] for b in emulator.expected("businesses")})

    def expected_requests(self, today: dt.date, start: dt.date, state: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """Requests per endpoint of a sync on `today` from `state` (None: the first sync), by the formulas."""
        state = state or {}
        review_from = start
        if state.get("review_metrics_daily"):
            review_from = max(start, dt.date.fromisoformat(state["review_metrics_daily"]) - dt.timedelta(days=REVIEW_LOOKBACK))
        presence_from = start
        if state.get("presence_metrics_daily"):
            presence_from = max(start, dt.date.fromisoformat(state["presence_metrics_daily"]) - dt.timedelta(days=PRESENCE_LOOKBACK))
        keyword_start, keyword_end = keyword_bounds(today, start)
        starts = {business: keyword_start for business in self.business_ids}
        for business, month in state.get("presence_keywords_monthly_by_business", {}).items():
            # From the saved month (read again with what follows it), and no window at all when it is the
            # last month arrived (is_compare_strictly): a window of the saved month alone is never made.
            saved_month = dt.date.fromisoformat(month)
            starts[business] = saved_month if saved_month < keyword_end else keyword_end + dt.timedelta(days=1)
        keywords, keyword_windows = keyword_requests(self.keywords_by_business, starts, keyword_end)
        keyword_range = f"{min(starts.values()).isoformat()} .. {keyword_end.isoformat()}" if starts else ""
        return {
            "review_metrics_daily": review_requests(self.review_businesses_by_day, review_from, today),
            "presence_metrics_daily": presence_requests(self.businesses, presence_from, today, self.presence_until),
            "presence_keywords_monthly": keywords,
            "business_partitions": pages(self.businesses),
            "posts": pages(self.posts),
            "publisher_states": publisher_pages(self.businesses),
            "feedback_results": pages(self.feedback_results),
            "feedback_forms": pages(FEEDBACK_FORMS),
            "message_templates": 1,
            "_windows": {"review_metrics_daily": (today - review_from).days + 1,
                         "presence_metrics_daily": len(day_windows(presence_from, today, PRESENCE_STEP)),
                         "presence_keywords_monthly": keyword_windows,
                         "review_from": review_from.isoformat(), "presence_from": presence_from.isoformat(),
                         "keywords": keyword_range},
        }


# -- a sync ---------------------------------------------------------------------------------------------------
def read(runtime: str, emulator: Emulator, workdir: Path, rate: int, workers: int,
         state: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """One `read` of the 8 streams through bench.runtimes' WRAPPER (the connector's CPU and peak RSS), with the
    emulator's counts reset before it."""
    files = read_files(workdir, emulator.config(requests_per_minute=rate, num_workers=workers),
                       catalog(*ANALYTICS_STREAMS, mode="incremental"), state)
    args, env = connector_command(runtime, "read", files)
    out = workdir / "stdout.jsonl"
    emulator.control("reset_stats", {})
    day = dt.datetime.now(dt.timezone.utc).date()
    wrapper = subprocess.run([sys.executable, "-c", WRAPPER, str(out), "600", "7200", json.dumps(env), str(workdir),
                              *args], capture_output=True, text=True, cwd=workdir)
    usage = json.loads(wrapper.stdout.strip().splitlines()[-1])
    stats = emulator.control("stats")
    records: Counter = Counter()
    last: Dict[str, Dict[str, Any]] = {}
    errors: List[str] = []
    with out.open("rb") as lines:
        for raw in lines:
            if raw.startswith(b'{"type":"RECORD"'):
                records[json.loads(raw)["record"]["stream"]] += 1
            elif raw.startswith(b'{"type":"STATE"'):
                message = json.loads(raw)["state"]
                last[message["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": message["stream"]}
            elif raw.startswith(b'{"type":"TRACE"') and b'"ERROR"' in raw:
                errors.append(json.loads(raw)["trace"]["error"].get("message", "")[:300])
    stderr = (workdir / "stdout.jsonl.stderr").read_text(errors="replace")
    out.unlink()
    if dt.datetime.now(dt.timezone.utc).date() != day:
        errors.append("the UTC date changed during the sync: its windows and the formulas' differ by a day")
    return {"usage": usage, "stats": stats, "records": dict(records), "state": list(last.values()),
            "errors": errors, "stderr_tail": stderr[-1500:] if usage["exit"] else "", "today": day}


def saved(state: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The saved position of each incremental stream: its date; for keywords, the earliest business's (and
    how many businesses it holds)."""
    out: Dict[str, Any] = {}
    for entry in state:
        stream = entry["stream"]
        name, value = stream["stream_descriptor"]["name"], stream.get("stream_state") or {}
        if name == "presence_keywords_monthly":
            by_business = {s["partition"]["business_id"]: s["cursor"]["date"] for s in value.get("states", [])
                           if s.get("cursor", {}).get("date") and "business_id" in s.get("partition", {})}
            if by_business:
                out[name] = min(by_business.values())
                out[name + "_latest"] = max(by_business.values())
                out[name + "_by_business"] = by_business
            elif value.get("state", {}).get("date"):
                out[name] = value["state"]["date"]
        elif value.get("date"):
            out[name] = value["date"]
    return out


def figures(run: Dict[str, Any], expected: Dict[str, Any]) -> Dict[str, Any]:
    """A sync's requests per endpoint against the formulas', its minutes at 300 a minute, and its run."""
    stats = run["stats"]
    per_endpoint: Dict[str, Any] = {}
    for name, path in ENDPOINTS.items():
        measured = stats.get("requests " + path, 0)
        per_endpoint[name] = {"requests": measured, "formula": expected[name], "agrees": measured == expected[name]}
    counted = sum(v["requests"] for v in per_endpoint.values())
    total = stats.get("requests", 0)
    usage = run["usage"]
    out = {
        "exit": usage["exit"], "killed": usage["killed"], "wall_s": usage["wall_s"], "cpu_s": usage["cpu_s"],
        "peak_rss_mib": usage["peak_rss_kib"] // 1024,
        "requests": total, "formula_requests": sum(v for k, v in expected.items() if not k.startswith("_")),
        "other_requests": total - counted, "429s": stats.get("429", 0),
        "minutes_at_300_per_min": round(total / QUOTA, 2),
        "per_endpoint": per_endpoint, "windows": expected["_windows"], "records": run["records"],
        "saved": {k: v if not k.endswith("_by_business") else f"{len(v)} businesses"
                  for k, v in saved(run["state"]).items()},
    }
    if run["errors"]:
        out["errors"] = run["errors"][:3]
    if run["stderr_tail"]:
        out["stderr_tail"] = run["stderr_tail"]
    return out


def measure(args: argparse.Namespace, workdir: Path) -> Dict[str, Any]:
    flags = ["--conversations", "10", "--businesses", str(args.businesses), "--reviews", str(args.reviews),
             "--posts", str(args.posts), "--feedback-results", str(args.feedback_results),
             "--rate-limit", str(args.rate)]
    if args.analytics_today:
        flags += ["--analytics-today", args.analytics_today]
    emulator = Emulator(*flags)
    try:
        today = dt.datetime.now(dt.timezone.utc).date()
        start = today - dt.timedelta(days=ANALYTICS_DAYS)
        data = Data(emulator, args.businesses, args.posts, args.feedback_results, start, args.analytics_today)
        reviews_per_day = args.reviews / 900
        result: Dict[str, Any] = {
            "organization": {
                "businesses": args.businesses, "reviews": args.reviews,
                "reviews_per_day": round(reviews_per_day, 1),
                "review_update_days_in_emulator": data.all_review_days,
                "analytics_window": [start.isoformat(), today.isoformat()],
                "window_days": ANALYTICS_DAYS + 1,
                "window_days_with_reviews": len(data.review_businesses_by_day),
                "window_review_days_range": data.review_days,
                "max_businesses_with_reviews_in_a_day": max(data.review_businesses_by_day.values(), default=0),
                "review_days_needing_2_pages_or_more": sum(1 for n in data.review_businesses_by_day.values() if n > PER_PAGE),
                "review_metric_rows_in_window": data.review_metric_rows,
                "keyword_rows": data.keyword_rows, "posts": args.posts, "feedback_results": args.feedback_results,
            },
            "runtime": args.runtime, "rate_per_min": args.rate, "num_workers": args.workers,
            "emulator_analytics_today": args.analytics_today,
        }
        print(json.dumps(result), flush=True)
        first = read(args.runtime, emulator, workdir, args.rate, args.workers, None)
        result["first"] = figures(first, data.expected_requests(first["today"], start, None))
        print(json.dumps({"first": result["first"]}), flush=True)
        second = read(args.runtime, emulator, workdir, args.rate, args.workers, first["state"] or None)
        expected = data.expected_requests(second["today"], start, saved(first["state"]))
        result["second"] = figures(second, expected)
        # What the second sync would ask if the saved review date were the sync's day (an organization with
        # reviews every day, up to today): the 31 windows designed.
        if_today = review_requests(data.review_businesses_by_day, second["today"] - dt.timedelta(days=REVIEW_LOOKBACK),
                                   second["today"])
        result["second"]["review_metrics_daily_if_saved_today"] = if_today
        result["second"]["requests_if_saved_review_day_were_today"] = (
            result["second"]["requests"] - result["second"]["per_endpoint"]["review_metrics_daily"]["requests"] + if_today)
        print(json.dumps({"second": result["second"]}), flush=True)
    finally:
        emulator.stop()
    return result


# -- a real organization, by the formulas ---------------------------------------------------------------------
def real_organization(businesses: int = 500, reviews_per_day: float = 50, keywords: int = 30, posts: int = 2000,
                      feedback_results: int = 10000, forms: int = 3, today: Optional[dt.date] = None) -> Dict[str, Any]:
    """Requests per stream of a first sync (two years), a daily sync, an hourly sync and the sync that reads a
    newly arrived keyword month, by the formulas (the module's doc). Presence pages count rows: when Partoo's
    newest row is a few days old, the saved date is too, and a sync reads the same 6 (hourly) or 7 (daily)
    days of rows, whatever the lag."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    start = today - dt.timedelta(days=ANALYTICS_DAYS)
    days = ANALYTICS_DAYS + 1
    per_day = pages(min(businesses, math.ceil(reviews_per_day)))  # at most one business per review
    keyword_start, keyword_end = keyword_bounds(today, start)
    keyword_windows = day_windows(keyword_start, keyword_end, KEYWORD_STEP)
    keyword_first = businesses * sum(
        pages(keywords * months_in(low, high), PRESENCE_PER_PAGE) for low, high in keyword_windows)
    presence_first = presence_requests(businesses, start, today)
    reports = {"posts": pages(posts), "publisher_states": publisher_pages(businesses),
               "feedback_results": pages(feedback_results), "feedback_forms": pages(forms), "message_templates": 1}

    def sync(review_windows: int, presence_days: int, keyword_requests_: int) -> Dict[str, int]:
        out = {"review_metrics_daily": review_windows * per_day,
               "presence_metrics_daily": pages(presence_days * businesses, PRESENCE_PER_PAGE),
               "presence_keywords_monthly": keyword_requests_, "business_partitions": pages(businesses), **reports}
        out["total"] = sum(out.values())
        out["minutes_at_300_per_min"] = round(out["total"] / QUOTA, 2)
        return out

    first = sync(days, 0, keyword_first)
    first["presence_metrics_daily"] = presence_first
    first["total"] = sum(v for k, v in first.items() if k not in ("total", "minutes_at_300_per_min"))
    first["minutes_at_300_per_min"] = round(first["total"] / QUOTA, 2)
    # A sync 24 h after the last one: review windows from (yesterday - 30) to today; presence rows from
    # (yesterday's newest - 5) on. An hourly sync: from (today - 30), (today's newest - 5).
    daily = sync(REVIEW_LOOKBACK + 2, PRESENCE_LOOKBACK + 2, 0)
    hourly = sync(REVIEW_LOOKBACK + 1, PRESENCE_LOOKBACK + 1, 0)
    # The first sync after the 10th: per business, one window from the saved month to the new one (both read).
    new_month = businesses * pages(2 * keywords, PRESENCE_PER_PAGE)
    month = sync(REVIEW_LOOKBACK + 2, PRESENCE_LOOKBACK + 2, new_month)
    return {"assumptions": {"businesses": businesses, "reviews_per_day": reviews_per_day,
                            "businesses_with_reviews_per_day_at_most": min(businesses, math.ceil(reviews_per_day)),
                            "keywords_per_business_month": keywords, "posts": posts,
                            "feedback_results": feedback_results, "feedback_forms": forms,
                            "analytics_days": days, "keyword_windows_per_business": len(keyword_windows),
                            "today": today.isoformat()},
            "first_sync": first, "daily_sync": daily, "hourly_sync": hourly,
            "sync_reading_a_new_keyword_month": month,
            "per_day": {"daily_syncs": daily["total"], "hourly_syncs": 24 * hourly["total"],
                        "hourly_minutes_at_300_per_min": round(24 * hourly["total"] / QUOTA, 1)},
            "per_month_extra": {"keywords": new_month}}


def months_in(low: dt.date, high: dt.date) -> int:
    """First days of months between low and high, both included (the keyword rows' dates)."""
    count, month = 0, low.replace(day=1)
    while month <= high:
        count += month >= low
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return count


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 businesses, 4,500 reviews, 200 posts, 1,000 results")
    parser.add_argument("--businesses", type=int, help="default 500 (50 with --quick)")
    parser.add_argument("--reviews", type=int,
                        help="the emulator's reviews, spread over 2023-01-01 + 900 days (default 45,000: 50 a day)")
    parser.add_argument("--posts", type=int, help="default 2,000")
    parser.add_argument("--feedback-results", type=int, help="default 10,000")
    parser.add_argument("--analytics-today", metavar="YYYY-MM-DD",
                        help="the emulator's analytics today (its data end there; the connector's windows still end "
                             "at the real today): an organization whose analytics stopped")
    parser.add_argument("--rate", type=int, default=RATE, help="the connector's requests_per_minute, and the emulator's limit")
    parser.add_argument("--workers", type=int, default=8, help="num_workers")
    parser.add_argument("--runtime", choices=["manifest-only", "package"], default="manifest-only")
    parser.add_argument("--formulas-only", action="store_true", help="only the real organization's figures")
    parser.add_argument("--real-businesses", type=int, default=500)
    parser.add_argument("--real-reviews-per-day", type=float, default=50)
    parser.add_argument("--real-keywords", type=int, default=30, help="keywords a business a month")
    parser.add_argument("--real-posts", type=int, default=2000)
    parser.add_argument("--real-feedback-results", type=int, default=10000)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    args.businesses = args.businesses or 500 // scale
    args.reviews = args.reviews if args.reviews is not None else 45000 // scale
    args.posts = args.posts if args.posts is not None else 2000 // scale
    args.feedback_results = args.feedback_results if args.feedback_results is not None else 10000 // scale
    results: Dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                           "load_avg_at_start": os.getloadavg()[0]},
                               "started_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    results["real_organization"] = real_organization(
        args.real_businesses, args.real_reviews_per_day, args.real_keywords, args.real_posts,
        args.real_feedback_results)
    if not args.formulas_only:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            results["emulator"] = measure(args, Path(tmp))
        results["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
