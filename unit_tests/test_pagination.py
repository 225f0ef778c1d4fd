"""read of conversations: cursor pagination, opaque cursors, the business filter."""

import pytest

from .conftest import BASE, conversation, make_config, record_ids, run_read


def pages(requests_mock, *bodies):
    requests_mock.get(f"{BASE}/conversations", [{"json": body} for body in bodies])


def test_one_page(requests_mock, sleeps):
    pages(requests_mock, {"conversations": [conversation(1), conversation(2)], "count": 2, "next_cursor": None})
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [1, 2]
    assert requests_mock.call_count == 1
    assert requests_mock.request_history[0].qs == {"per_page": ["100"]}


def test_three_pages_follow_next_cursor(requests_mock, sleeps):
    pages(
        requests_mock,
        {"conversations": [conversation(1)], "next_cursor": "p2"},
        {"conversations": [conversation(2)], "next_cursor": "p3"},
        {"conversations": [conversation(3)], "next_cursor": None},
    )
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [1, 2, 3]
    assert [r.qs.get("cursor") for r in requests_mock.request_history] == [None, ["p2"], ["p3"]]


@pytest.mark.parametrize("last_page", [
    {"conversations": [{"id": 2}], "next_cursor": None},
    {"conversations": [{"id": 2}]},
    {"conversations": [{"id": 2}], "next_cursor": ""},
], ids=["null", "missing", "empty-string"])
def test_last_page_ends_the_stream(requests_mock, sleeps, last_page):
    pages(requests_mock, {"conversations": [conversation(1)], "next_cursor": "p2"}, last_page)
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [1, 2]
    assert requests_mock.call_count == 2


# airbyte-cdk evaluates rendered templates as Python literals: these would come back as 1000.0, 31,
# None (ending the stream), True, a tuple... The API must get them back byte for byte. One read pages
# through all of them (one cursor a page), as 16 reads did before.
LITERAL_LOOKING_CURSORS = [
    "1e3", "0x1f", "None", "007", "True", "[1, 2]", "1,2", "'quoted'", '"dq"', "  padded  ", "a+b/c=",
    "caf\u00e9\U0001F600", "x" * 300, "{{ config }}", "-5", "1_000",
]


def test_literal_looking_cursors_are_sent_back_unchanged(requests_mock, sleeps):
    cursors = LITERAL_LOOKING_CURSORS
    pages(requests_mock, *[{"conversations": [conversation(n)], "next_cursor": cursor} for n, cursor in enumerate(cursors, 1)],
          {"conversations": [conversation(len(cursors) + 1)], "next_cursor": None})
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == list(range(1, len(cursors) + 2))
    assert [r.qs.get("cursor") for r in requests_mock.request_history] == [None] + [[cursor] for cursor in cursors]


# airbyte-cdk evaluates a rendered request parameter as a Python literal and keeps the result when it is
# a list or a string: without the manifest's `pprint`, an id shaped like "[1, 2]" went out as
# business__in=1&business__in=2 and "'b1'" as b1. (Numbers such as 1e5 or 0x1f stay strings there.)
@pytest.mark.parametrize("business_ids", [
    ["5409c35a97bbc544d8e26737", "1e5", "007"], ["[1, 2]"], ["'b1'"], ['"b1"'], ["[1, 2]", "b2"], ["1e5"], ["0x1f"],
    ["None"], ["True"], ["{'a': 1}"],
], ids=repr)
def test_business_filter_is_one_comma_separated_parameter(requests_mock, sleeps, business_ids):
    pages(requests_mock, {"conversations": [conversation(1)], "next_cursor": "n"},
          {"conversations": [conversation(2)], "next_cursor": None})
    output = run_read(make_config(business_ids=business_ids), "conversations")
    assert record_ids(output, "conversations") == [1, 2]
    assert [r.qs.get("business__in") for r in requests_mock.request_history] == [[",".join(business_ids)]] * 2


@pytest.mark.parametrize("business_ids", [None, []])
def test_no_business_filter_when_absent_or_empty(requests_mock, sleeps, business_ids):
    pages(requests_mock, {"conversations": [conversation(1)], "next_cursor": None})
    config = make_config() if business_ids is None else make_config(business_ids=business_ids)
    run_read(config, "conversations")
    assert "business__in" not in requests_mock.request_history[0].qs


def test_each_conversation_gets_its_last_activity(requests_mock, sleeps):
    created = "2024-02-02 02:02:02.000002+00:00"
    pages(requests_mock, {"conversations": [
        conversation(1, last="2024-05-01 10:00:00.000001+00:00"),
        conversation(2, last=None, created_at=created),
        conversation(3, created_at=created, last_message={"id": 9, "date": None}),
        conversation(4, created_at=created, last_message="unexpected"),
    ], "next_cursor": None})
    records = [m.record.data for m in run_read(make_config(), "conversations").records]
    assert [r["last_activity_at"] for r in records] == ["2024-05-01 10:00:00.000001+00:00", created, created, created]
