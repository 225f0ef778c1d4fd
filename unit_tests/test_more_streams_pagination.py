"""Page-number pagination of the search endpoints ({page, max_page, count, <list>}): page 1 first, stop on
max_page or an empty list and never on a short page, and stop with an error instead of looping."""

import pytest
from airbyte_cdk.models import SyncMode

from .conftest import BASE, make_config, record_ids, run_read
from .emulated_partoo import query_of

USERS = f"{BASE}/user/search"


def user(n):
    return {"id": f"u{n}", "created_at": 1615299414 + n, "role": "ORG_ADMIN"}


def pages(requests_mock, url, *bodies):
    requests_mock.get(url, [{"json": body} for body in bodies])


def test_pages_are_read_from_page_one_until_max_page(requests_mock, sleeps):
    pages(requests_mock, USERS,
          {"page": 1, "max_page": 3, "count": 5, "users": [user(1), user(2)]},
          {"page": 2, "max_page": 3, "count": 5, "users": [user(3), user(4)]},
          {"page": 3, "max_page": 3, "count": 5, "users": [user(5)]})
    output = run_read(make_config(), "users")
    assert [r.record.data["id"] for r in output.records] == ["u1", "u2", "u3", "u4", "u5"]
    assert [query_of(r) for r in requests_mock.request_history] == [
        {"page": "1", "per_page": "100"}, {"page": "2", "per_page": "100"}, {"page": "3", "per_page": "100"}]


def test_an_ignored_per_page_does_not_end_the_stream_on_a_short_page(requests_mock, sleeps):
    # per_page=100 asked, 30 served: every page is "short", only max_page says when to stop
    pages(requests_mock, USERS, *[
        {"page": p, "max_page": 3, "count": 75, "users": [user(p * 100 + i) for i in range(30 if p < 3 else 15)]}
        for p in (1, 2, 3)])
    output = run_read(make_config(), "users")
    assert len(output.records) == 75
    assert requests_mock.call_count == 3


@pytest.mark.parametrize("last", [
    {"page": 2, "max_page": 5, "count": 9, "users": []},  # an empty page ends the stream whatever max_page says
    {"page": 2, "max_page": 2, "count": 2, "users": [{"id": "u2"}]},
    {"page": 2, "max_page": 1, "count": 2, "users": [{"id": "u2"}]},  # page beyond max_page
    {"page": 2, "count": 2, "users": [{"id": "u2"}]},  # no max_page: nothing more to read
], ids=["empty-list", "page-equals-max-page", "page-beyond-max-page", "no-max-page"])
def test_the_stream_stops_on_max_page_or_an_empty_list(requests_mock, sleeps, last):
    pages(requests_mock, USERS, {"page": 1, "max_page": 5, "count": 9, "users": [user(1)]}, last,
          {"page": 3, "max_page": 5, "count": 9, "users": [user(3)]})
    output = run_read(make_config(), "users")
    assert requests_mock.call_count == 2
    assert len(output.records) == 1 + len(last["users"])


@pytest.mark.parametrize("body", [
    {"page": 1, "max_page": 0, "count": 0, "users": []},
    {"page": 1, "count": 0, "users": []},
    {"page": 1, "max_page": None, "count": 0, "users": []},
], ids=["max-page-0", "no-max-page", "null-max-page"])
def test_an_empty_organization_is_one_request(requests_mock, sleeps, body):
    pages(requests_mock, USERS, body)
    output = run_read(make_config(), "users")
    assert output.records == [] and requests_mock.call_count == 1 and not output.errors


def test_a_page_number_that_does_not_advance_stops_the_stream_with_a_clear_error(requests_mock, sleeps):
    # the API ignores `page` and serves page 1 again and again (posts: users emits a user once whatever the pages)
    requests_mock.get(f"{BASE}/posts", json={"page": 1, "max_page": 4, "count": 8, "posts": [user(1), user(2)]})
    output = run_read(make_config(), "posts", expecting_exception=True)
    assert requests_mock.call_count == 2
    # the repeated page is emitted once more (its page number is only known once it is read), never again
    assert record_ids(output, "posts") == ["u1", "u2", "u1", "u2"]
    messages = [e.trace.error.message for e in output.errors]
    assert any("answered page 1 when asked for page 2" in m and "/posts" in m for m in messages), messages


def test_a_max_page_that_keeps_growing_stops_the_stream_with_a_clear_error(requests_mock, sleeps):
    pages(requests_mock, USERS, *[
        {"page": p, "max_page": p + 1, "count": 2 * (p + 1), "users": [user(p)]} for p in range(1, 30)])
    output = run_read(make_config(), "users", expecting_exception=True)
    assert requests_mock.call_count == 4  # grew on pages 2, 3 and 4 in a row
    assert any("max_page keeps growing" in e.trace.error.message for e in output.errors)
    assert len(output.records) == 4


def test_a_max_page_that_grows_once_is_followed(requests_mock, sleeps):
    # a review arriving during the sync adds a page: read it
    pages(requests_mock, USERS,
          {"page": 1, "max_page": 2, "count": 2, "users": [user(1)]},
          {"page": 2, "max_page": 3, "count": 3, "users": [user(2)]},
          {"page": 3, "max_page": 3, "count": 3, "users": [user(3)]})
    output = run_read(make_config(), "users")
    assert len(output.records) == 3 and not output.errors


def test_a_body_that_is_not_a_page_is_retried(requests_mock, sleeps):
    requests_mock.get(USERS, [{"text": "<html>Maintenance</html>", "status_code": 200},
                              {"json": {"page": 1, "max_page": 1, "count": 1, "users": [user(1)]}}])
    output = run_read(make_config(), "users")
    assert record_ids(output, "users") == ["u1"] and requests_mock.call_count == 2


def test_sections_may_answer_a_bare_list(requests_mock, sleeps):
    # GET /sections's wrapper is not documented: a list is read as the whole answer
    requests_mock.get(f"{BASE}/sections", json=[{"id": 1, "name": "Region", "groups": []}, {"id": 2, "name": "Brand"}])
    output = run_read(make_config(), "group_sections")
    assert record_ids(output, "group_sections") == [1, 2] and requests_mock.call_count == 1


def test_business_search_pages_carry_every_status_and_the_business_filter(requests_mock, sleeps):
    pages(requests_mock, f"{BASE}/business/search",
          {"page": 1, "max_page": 2, "count": 2, "businesses": [{"id": "b1", "modified": 1.5}]},
          {"page": 2, "max_page": 2, "count": 2, "businesses": [{"id": "1e5", "modified": 2.5}]})
    run_read(make_config(business_ids=["b1", "1e5"]), "businesses", mode=SyncMode.full_refresh)
    for page, request in enumerate(requests_mock.request_history, start=1):
        query = query_of(request)
        assert query["status"] == "open,closed,opening_soon,temporarily_closed"
        assert query["business__in"] == "b1,1e5"
        assert query["page"] == str(page)


def test_two_windows_of_a_stream_in_flight_keep_their_own_page_history():
    # airbyte-cdk shares one pagination strategy between the windows of an analytics stream, read at once by
    # several workers: a window that starts while another is at its page 14 must not be taken for its page 1.
    from types import SimpleNamespace

    from airbyte_cdk.sources.types import StreamSlice

    from source_partoo.components import PartooPages

    strategy = PartooPages(config={}, parameters={"list_key": "data"})
    window = [StreamSlice(partition={}, cursor_slice={"start_time": day, "end_time": day}) for day in ("2024-01-01", "2024-01-02")]

    def page(number, max_page):
        return SimpleNamespace(json=lambda: {"page": number, "max_page": max_page, "data": [{"n": number}]})

    assert strategy.next_page_token(page(1, 20), 1, None, None, stream_slice=window[0]) == 2
    assert strategy.next_page_token(page(1, 2), 1, None, None, stream_slice=window[1]) == 2
    for number in range(2, 15):  # the first window's max_page stays 20: never "keeps growing"
        assert strategy.next_page_token(page(number, 20), 1, None, number, stream_slice=window[0]) == number + 1
    assert strategy.next_page_token(page(2, 2), 1, None, 2, stream_slice=window[1]) is None
