"""businesses, reviews and review_replies against the emulator's own data (served in process): exact records,
server-side incremental round trips with their request parameters and counts, soft deletes, the 24 h
lookback, replies of every shape, and what a reply on an old review does."""

import datetime as dt
import math

import pytest
from airbyte_cdk.models import SyncMode

from source_partoo.components import utc_timestamp

from .conftest import last_state, make_config, run_read, state_from
from .emulated_partoo import mount, query_of, requests_to

INC = SyncMode.incremental
STATES = "treated,not_treated,deleted,pending_auto_reply,treated_auto_reply"


def utc(value):
    """An independent conversion: epoch seconds or ISO 8601 with an offset, to ISO 8601 in UTC."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat(timespec="microseconds")
    return dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def without_nulls(record):
    return {k: v for k, v in record.items() if v is not None}


def records(output, stream):
    return [m.record.data for m in output.records if m.record.stream == stream]


# -- businesses ---------------------------------------------------------------------------------------
def test_businesses_every_status_exactly_with_utc_timestamps(requests_mock, sleeps):
    areas = mount(requests_mock)
    output = run_read(make_config(), "businesses")
    expected = areas.expected("businesses", {})
    assert {b["status"] for b in expected} == {"open", "closed", "opening_soon", "temporarily_closed"}
    got = {r["id"]: r for r in records(output, "businesses")}
    assert len(got) == len(expected) == 6
    for business in expected:
        record = dict(got[business["id"]])
        assert record.pop("created_utc") == utc(business["created"])
        assert record.pop("modified_utc") == utc(business["modified"])
        assert record == without_nulls(business)  # Partoo's epoch floats kept as sent


def test_businesses_incremental_round_trip_on_modified(requests_mock, sleeps):
    areas = mount(requests_mock)
    first = run_read(make_config(start_date="2023-01-01"), "businesses", mode=INC)
    [request] = requests_to(requests_mock, "/business/search")
    assert query_of(request) == {"status": "open,closed,opening_soon,temporarily_closed", "page": "1",
                                 "per_page": "100", "modified__gte": "1672531200"}
    newest = max(b["modified"] for b in areas.expected("businesses", {}))
    assert last_state(first, "businesses") == {"modified": str(math.floor(newest))}
    touched = areas.control("touch_business", {"index": 2})
    requests_mock.reset_mock()
    second = run_read(make_config(start_date="2023-01-01"), "businesses", mode=INC, state=state_from(first, "businesses"))
    [request] = requests_to(requests_mock, "/business/search")
    assert query_of(request)["modified__gte"] == str(math.floor(newest))
    ids = [r["id"] for r in records(second, "businesses")]
    assert touched["id"] in ids and len(ids) <= 2  # the touched business, and the boundary one
    assert last_state(second, "businesses") == {"modified": str(math.floor(touched["modified"]))}


def test_start_date_bounds_businesses_on_the_server(requests_mock, sleeps):
    areas = mount(requests_mock)
    cut = sorted(b["modified"] for b in areas.expected("businesses", {}))[3]
    start = dt.datetime.fromtimestamp(math.floor(cut), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    output = run_read(make_config(start_date=start), "businesses")
    assert sorted(r["modified"] for r in records(output, "businesses")) == sorted(
        b["modified"] for b in areas.expected("businesses", {}) if b["modified"] >= math.floor(cut))


# -- reviews ------------------------------------------------------------------------------------------
def test_reviews_exactly_every_state_with_utc_timestamps(requests_mock, sleeps):
    areas = mount(requests_mock, "--reviews", "250")
    output = run_read(make_config(), "reviews")
    expected = areas.expected("reviews", {})
    got = {r["id"]: r for r in records(output, "reviews")}
    assert len(got) == len(records(output, "reviews")) == len(expected) == 250
    assert {"deleted", "pending_auto_reply"} <= {r["state"] for r in got.values()}
    for review in expected:
        record = dict(got[review["id"]])
        assert record.pop("date_utc") == utc(review["date"])
        assert record.pop("update_date_utc") == utc(review["update_date"] or review["date"])
        assert record.pop("delete_date_utc", None) == utc(review["delete_date"])
        assert record == without_nulls(review)
    reviews = requests_to(requests_mock, "/reviews")
    assert [query_of(r)["page"] for r in reviews] == ["1", "2", "3"]
    assert all(query_of(r)["state__in"] == STATES and query_of(r)["per_page"] == "100" for r in reviews)


def test_reviews_incremental_round_trips_soft_deletes_replies_and_late_reviews(requests_mock, sleeps):
    areas = mount(requests_mock, "--reviews", "120")
    config = make_config(start_date="2023-06-01")
    first = run_read(config, "reviews", mode=INC)
    assert query_of(requests_to(requests_mock, "/reviews")[0])["update_date__gte"] == "2023-06-01T00:00:00"
    loaded = {r["id"] for r in records(first, "reviews")}
    assert loaded == {r["id"] for r in areas.expected("reviews", {})
                      if utc(r["update_date"] or r["date"]) >= "2023-06-01T00:00:00"}
    newest = max(utc(r["update_date"] or r["date"]) for r in areas.expected("reviews", {}))
    assert last_state(first, "reviews") == {"update_date_utc": newest[:19]}

    # a deletion (a soft delete Partoo can undo) and a reply: both move update_date in the emulator
    areas.control("delete_review", {"id": 5})
    replied = areas.control("add_reply", {"review_id": 7})
    requests_mock.reset_mock()
    second = run_read(config, "reviews", mode=INC, state=state_from(first, "reviews"))
    [request] = requests_to(requests_mock, "/reviews")
    lookback = dt.datetime.fromisoformat(newest) - dt.timedelta(days=1)
    assert query_of(request)["update_date__gte"] == lookback.strftime("%Y-%m-%dT%H:%M:%S")
    got = {r["id"]: r for r in records(second, "reviews")}
    assert got[5]["state"] == "deleted" and got[5]["delete_date_utc"] is not None
    assert any(reply["id"] == replied["id"] for reply in got[7]["comments"])

    # reviews reaching Partoo late: 20 h late is within the 24 h lookback, 30 h late is not
    late = areas.control("add_review", {"late_hours": 20})
    too_late = areas.control("add_review", {"late_hours": 30})
    areas.control("restore_review", {"id": 5})
    third = run_read(config, "reviews", mode=INC, state=state_from(second, "reviews"))
    got = {r["id"]: r for r in records(third, "reviews")}
    assert late["id"] in got and too_late["id"] not in got
    assert got[5]["state"] != "deleted" and "delete_date" not in got[5]  # restored: loaded again


def test_a_review_changed_after_reviews_that_reach_today_is_read_by_the_next_sync(requests_mock, sleeps):
    # The emulator dates a change now, as Partoo does: after reviews generated up to today (--reviews-until).
    areas = mount(requests_mock, "--reviews", "60", "--reviews-until", dt.datetime.now(dt.timezone.utc).date().isoformat())
    first = run_read(make_config(), "reviews", mode=INC)
    areas.control("delete_review", {"id": 5})
    second = run_read(make_config(), "reviews", mode=INC, state=state_from(first, "reviews"))
    assert {r["id"]: r["state"] for r in records(second, "reviews")}.get(5) == "deleted"


def test_reviews_business_filter(requests_mock, sleeps):
    areas = mount(requests_mock, "--reviews", "60")
    wanted = sorted({r["business_id"] for r in areas.expected("reviews", {})})[:2]
    output = run_read(make_config(business_ids=wanted), "reviews")
    assert {r["business_id"] for r in records(output, "reviews")} == set(wanted)
    assert len(records(output, "reviews")) == len(areas.expected("reviews", {"business__in": ",".join(wanted)}))
    assert all(query_of(r)["business__in"] == ",".join(wanted) for r in requests_to(requests_mock, "/reviews"))


# -- review_replies -----------------------------------------------------------------------------------
def test_review_replies_of_every_shape_exactly_without_a_request_per_review(requests_mock, sleeps):
    areas = mount(requests_mock, "--reviews", "150")
    output = run_read(make_config(), "reviews", "review_replies")
    expected = areas.expected("review_replies", {})
    shapes = {type(r["comments"]).__name__ for r in areas.expected("reviews", {})}
    assert shapes == {"NoneType", "dict", "list"}
    assert any(reply["parent_id"] is not None for reply in expected)  # nested replies are records too
    got = {r["id"]: r for r in records(output, "review_replies")}
    assert len(got) == len(records(output, "review_replies")) == len(expected)
    for reply in expected:
        record = dict(got[reply["id"]])
        assert record.pop("created_utc") == utc(reply["created"])
        assert record.pop("date_utc") == utc(reply["date"])
        assert record.pop("update_date_utc", None) == utc(reply.get("update_date"))
        assert record == without_nulls(reply)
    # two pages of reviews for each stream; none per review
    assert len(requests_to(requests_mock, "/reviews")) == 4
    assert requests_mock.call_count == 4


@pytest.mark.parametrize("bump", [True, False], ids=["reply-moves-update-date", "reply-leaves-update-date"])
def test_a_reply_on_an_old_review(requests_mock, sleeps, bump):
    """Whether a new reply moves its review's update_date is not documented. If it does, incremental
    review_replies loads the reply; if it does not, only a full refresh of review_replies does."""
    areas = mount(requests_mock, "--reviews", "60")
    first = run_read(make_config(), "review_replies", mode=INC)
    old = min(areas.expected("reviews", {}), key=lambda r: r["update_date"] or r["date"])["id"]
    reply = areas.control("add_reply", {"review_id": old, "bump": bump})
    second = run_read(make_config(), "review_replies", mode=INC, state=state_from(first, "review_replies"))
    assert (reply["id"] in {r["id"] for r in records(second, "review_replies")}) is bump
    full = run_read(make_config(), "review_replies")
    assert reply["id"] in {r["id"] for r in records(full, "review_replies")}


@pytest.mark.parametrize("comments, expected", [
    (None, []),
    ([], []),
    ({"id": 1, "content": "a"}, [{"id": 1, "content": "a", "review_id": 9}]),
    ([{"id": 1}, {"id": 2, "review_id": 9, "parent_id": None}], [{"id": 1, "review_id": 9}, {"id": 2, "review_id": 9}]),
    ({"id": 1, "replies": [{"id": 2, "replies": [{"id": 3}]}]},
     [{"id": 1, "review_id": 9}, {"id": 2, "review_id": 9, "parent_id": 1}, {"id": 3, "review_id": 9, "parent_id": 2}]),
    ([{"id": 1, "replies": []}, "not a reply", {"id": 1}], [{"id": 1, "review_id": 9}]),
], ids=["null", "empty-array", "object", "array", "nested", "junk-and-repeats"])
def test_replies_are_taken_from_any_shape_of_comments(requests_mock, sleeps, comments, expected):
    review = {"id": 9, "business_id": "b1", "date": "2024-01-01T10:00:00+02:00", "update_date": None, "comments": comments}
    requests_mock.get("https://api.partoo.co/v2/reviews", json={"page": 1, "max_page": 1, "count": 1, "reviews": [review]})
    output = run_read(make_config(), "review_replies")
    got = [{k: v for k, v in r.items() if k not in ("business_id", "review_update_date_utc")} for r in records(output, "review_replies")]
    assert got == expected
    assert all(r["review_update_date_utc"] == "2024-01-01T08:00:00.000000+00:00" and r["business_id"] == "b1"
               for r in records(output, "review_replies"))


# -- users --------------------------------------------------------------------------------------------
def test_users_exactly_and_filtered_per_business(requests_mock, sleeps):
    areas = mount(requests_mock)
    output = run_read(make_config(), "users")
    expected = areas.expected("users", {})
    got = {r["id"]: r for r in records(output, "users")}
    assert len(got) == len(expected) == 24
    for user in expected:
        record = dict(got[user["id"]])
        assert record.pop("created_at_utc") == utc(user["created_at"])
        assert record == without_nulls(user)
    assert "business_id" not in query_of(requests_to(requests_mock, "/user/search")[0])

    businesses = [b["id"] for b in areas.expected("businesses", {})][:2]
    requests_mock.reset_mock()
    filtered = run_read(make_config(business_ids=businesses), "users")
    assert sorted(query_of(r)["business_id"] for r in requests_to(requests_mock, "/user/search")) == sorted(businesses)
    ids = [r["id"] for r in records(filtered, "users")]
    assert sorted(ids) == sorted(u["id"] for u in areas.expected("users", {"business__in": ",".join(businesses)}))
    # each user once, though the organization's managers are listed for both businesses
    assert sum(len(areas.expected("users", {"business__in": b})) for b in businesses) > len(ids) > 0


def test_users_without_an_id_are_all_kept(requests_mock, sleeps):
    requests_mock.get("https://api.partoo.co/v2/user/search",
                      json={"page": 1, "max_page": 1, "count": 2, "users": [{"first_name": "Lea"}, {"first_name": "Tom"}]})
    output = run_read(make_config(business_ids=["b1", "b2"]), "users")
    assert len(records(output, "users")) == 4  # nothing tells one from another: none is dropped


@pytest.mark.parametrize("value, expected", [
    (1561335111.681374, "2019-06-24T00:11:51.681374+00:00"),
    (1615299414, "2021-03-09T14:16:54.000000+00:00"),
    ("1615299414", "2021-03-09T14:16:54.000000+00:00"),
    ("2017-08-01T19:15:54.256000+02:00", "2017-08-01T17:15:54.256000+00:00"),
    ("2023-01-31 16:22:17.327878+00:00", "2023-01-31T16:22:17.327878+00:00"),
    ("2019-01-01T00:00:00", "2019-01-01T00:00:00.000000+00:00"),
    ("2019-01-01T00:00:00Z", "2019-01-01T00:00:00.000000+00:00"),
    (None, None), ("", None), ("05-11-2021", None), (True, None), (float("inf"), None),
])
def test_every_partoo_date_becomes_a_utc_timestamp(value, expected):
    assert utc_timestamp(value) == expected


def test_business_ids_reach_the_user_search_unchanged(requests_mock, sleeps):
    requests_mock.get("https://api.partoo.co/v2/user/search", json={"page": 1, "max_page": 1, "count": 1, "users": [{"id": "u1"}]})
    run_read(make_config(business_ids=["1e5", "007", "None"]), "users")
    assert sorted(query_of(r)["business_id"] for r in requests_mock.request_history) == ["007", "1e5", "None"]
