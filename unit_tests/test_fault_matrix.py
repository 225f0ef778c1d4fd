"""Never loop, never lose, never leak: how the connector behaves on a bad day (docs/reliability.md)."""

import pytest
import requests

from .conftest import BASE, conversation, make_config, record_ids, run_read


def pages(requests_mock, *responses):
    requests_mock.get(f"{BASE}/conversations", list(responses))


def error_text(output):
    return " ".join(e.trace.error.message for e in output.errors)


def test_a_cursor_returned_twice_in_a_row_stops_the_stream_instead_of_looping(requests_mock, sleeps):
    pages(requests_mock,
          {"json": {"conversations": [conversation(1)], "next_cursor": "A"}},
          {"json": {"conversations": [conversation(2)], "next_cursor": "A"}},
          {"json": {"conversations": [conversation(3)], "next_cursor": None}})
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert "pagination cursor it had already returned" in error_text(output)
    assert requests_mock.call_count == 2  # no third request for the same page


def test_a_cursor_cycle_is_caught_too(requests_mock, sleeps):
    pages(requests_mock,
          {"json": {"conversations": [conversation(1)], "next_cursor": "A"}},
          {"json": {"conversations": [conversation(2)], "next_cursor": "B"}},
          {"json": {"conversations": [conversation(3)], "next_cursor": "A"}},
          {"json": {"conversations": [conversation(4)], "next_cursor": None}})
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert "already returned" in error_text(output)
    assert requests_mock.call_count == 3


def test_an_empty_page_that_still_carries_a_cursor_stops_the_stream(requests_mock, sleeps):
    pages(requests_mock,
          {"json": {"conversations": [conversation(1)], "next_cursor": "A"}},
          {"json": {"conversations": [], "next_cursor": "B"}},
          {"json": {"conversations": [], "next_cursor": "C"}})
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert "empty page that still carries a next cursor" in error_text(output)
    assert requests_mock.call_count == 2


def test_the_same_cursor_in_two_different_conversations_is_fine(partoo):
    # cursors are remembered per partition: two conversations may well share "off-100"
    partoo.page_size = 1
    partoo.conversations = [conversation(1), conversation(2)]
    partoo.messages = {1: [{"id": 11, "date": "2024-01-01 00:00:00.000000+00:00"},
                           {"id": 12, "date": "2024-01-02 00:00:00.000000+00:00"}],
                       2: [{"id": 21, "date": "2024-01-01 00:00:00.000000+00:00"},
                           {"id": 22, "date": "2024-01-02 00:00:00.000000+00:00"}]}
    output = run_read(make_config(), "messages")
    assert sorted(record_ids(output, "messages")) == [11, 12, 21, 22]
    assert not output.errors


@pytest.mark.parametrize("bad", [
    {"text": "<html><body>Bad Gateway</body></html>", "status_code": 200},
    {"text": '{"conversations": [{"id": 1, "consum', "status_code": 200},
    {"json": {"items": [{"id": 1}]}, "status_code": 200},
    {"json": {"conversations": "not a list"}, "status_code": 200},
    {"json": {"conversations": {"id": 1}}, "status_code": 200},
    {"json": [{"id": 1}], "status_code": 200},
], ids=["html", "truncated-json", "missing-key", "string-not-list", "object-not-list", "top-level-list"])
def test_a_malformed_page_is_retried_then_read_correctly(requests_mock, sleeps, bad):
    pages(requests_mock, bad, {"json": {"conversations": [conversation(1)], "next_cursor": None}})
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [1]
    assert requests_mock.call_count == 2
    assert not output.errors


def test_a_malformed_page_that_persists_fails_saying_what_came_back(requests_mock, sleeps):
    pages(requests_mock, {"text": "<html><body>Maintenance</body></html>", "status_code": 200})
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert output.records == []  # never a partial or garbage record
    assert "body that is not a page of records" in error_text(output)
    assert requests_mock.call_count == 7  # retried as transient, bounded


def test_an_html_error_page_with_a_server_error_status_is_retried(requests_mock, sleeps):
    pages(requests_mock, {"text": "<html>502 Bad Gateway</html>", "status_code": 502},
          {"json": {"conversations": [conversation(1)], "next_cursor": None}})
    assert record_ids(run_read(make_config(), "conversations"), "conversations") == [1]


@pytest.mark.parametrize("failure", [
    requests.exceptions.ConnectionError("Connection reset by peer"),
    requests.exceptions.ConnectionError("Failed to resolve 'api.partoo.co' ([Errno -2] Name or service not known)"),
    requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)"),
    requests.exceptions.ConnectTimeout("Connection to api.partoo.co timed out. (connect timeout=10)"),
], ids=["reset", "dns", "read-timeout", "connect-timeout"])
def test_network_faults_are_retried_with_backoff_then_fail_clearly(requests_mock, sleeps, failure):
    requests_mock.get(f"{BASE}/conversations", exc=failure)
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert output.records == []
    assert requests_mock.call_count == 7  # bounded
    assert len([s for s in sleeps if s > 0]) >= 6  # with backoff between tries
    # clearly: the stream's error says the retries ran out and which network error it was
    own = [e.trace.error for e in output.errors
           if e.trace.error.stream_descriptor and e.trace.error.stream_descriptor.name == "conversations"]
    assert len(own) == 1
    assert own[0].message.startswith("Exhausted available request attempts")
    assert f"{type(failure).__name__}: {failure}" in own[0].message


def test_a_field_whose_type_changed_is_loaded_as_it_comes(requests_mock, sleeps):
    changed = conversation(1, is_read="yes", issues="facebook_no_page_linked", business="b1")
    pages(requests_mock, {"json": {"conversations": [changed], "next_cursor": None}})
    records = [m.record.data for m in run_read(make_config(), "conversations").records]
    assert records[0]["is_read"] == "yes" and records[0]["business"] == "b1"
