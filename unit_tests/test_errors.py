"""Transient failures retry with backoff and Retry-After, never losing or duplicating a record;
failures the API explains end with its message."""

import re

import requests
import pytest

from .conftest import BASE, SANDBOX, conversation, make_config, record_ids, run_read

PAGE_1 = {"conversations": [conversation(1), conversation(2)], "next_cursor": "p2"}
PAGE_2 = {"conversations": [conversation(3)], "next_cursor": None}


def test_429_waits_as_long_as_retry_after_asks(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/conversations", [
        {"json": PAGE_1},
        {"status_code": 429, "headers": {"Retry-After": "37"}, "json": {"errors": {"json": "slow down"}}},
        {"json": PAGE_2},
    ])
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [1, 2, 3]
    assert 37 <= sleeps[0] <= 38  # Retry-After, plus airbyte-cdk's one second of margin
    # and the request budget holds every worker until its window (61 s) frees up
    assert 60 <= sleeps[0] + sum(s for s in sleeps[1:] if s > 1) <= 62
    assert requests_mock.call_count == 3
    assert requests_mock.request_history[2].qs["cursor"] == ["p2"]  # the same page is asked again


def test_429_without_retry_after_backs_off_exponentially_with_jitter(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/conversations", [
        {"status_code": 429, "json": {}}, {"status_code": 429, "json": {}}, {"status_code": 429, "json": {}},
        {"json": PAGE_2},
    ])
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [3]
    logs = " ".join(m.log.message for m in output.logs)
    backoffs = [float(w) for w in re.findall(r"HTTP 429\)\. Retrying in ([0-9.]+) seconds", logs)]
    assert len(backoffs) == 3 and all(w in sleeps for w in backoffs)
    assert 4 <= backoffs[0] < 8 and backoffs[2] >= 1.5 * backoffs[1] > backoffs[0]  # 2 * 2**attempt, + jitter
    assert len({round(w % 1, 3) for w in backoffs}) == 3  # jittered: not whole seconds


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_then_succeed_without_duplicates(requests_mock, sleeps, status):
    requests_mock.get(f"{BASE}/conversations", [
        {"json": PAGE_1},
        {"status_code": status, "text": "<html>oops</html>"},
        {"status_code": status, "json": {"errors": {"json": "boom"}}},
        {"json": PAGE_2},
    ])
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [1, 2, 3]
    assert requests_mock.call_count == 4


@pytest.mark.parametrize("failure", [requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout,
                                     requests.exceptions.ChunkedEncodingError])
def test_network_failures_are_retried(requests_mock, sleeps, failure):
    requests_mock.get(f"{BASE}/conversations", [{"exc": failure}, {"exc": failure}, {"json": PAGE_2}])
    output = run_read(make_config(), "conversations")
    assert record_ids(output, "conversations") == [3]
    assert requests_mock.call_count == 3


def test_server_errors_are_retried_a_bounded_number_of_times(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/conversations", status_code=503, json={"errors": {"json": "down"}})
    output = run_read(make_config(), "conversations", expecting_exception=True)
    assert output.records == []
    assert requests_mock.call_count == 7  # the first try and 6 retries
    assert output.errors


def test_requests_carry_explicit_timeouts(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/conversations", json=PAGE_2)
    run_read(make_config(), "conversations")
    assert requests_mock.request_history[0].timeout == (10, 30)


def test_400_fails_with_the_apis_own_message(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/conversations", status_code=400,
                      json={"errors": {"json": {"per_page": "Must be between 1 and 100."}}})
    output = run_read(make_config(), "conversations", expecting_exception=True)
    # The connector's own error (the stream's trace), not airbyte-cdk's closing one, which repeats the
    # raw response whatever the connector says.
    own = [e.trace.error for e in output.errors
           if e.trace.error.stream_descriptor and e.trace.error.stream_descriptor.name == "conversations"]
    assert [e.message for e in own] == [
        "Partoo rejected the request (HTTP 400): {'json': {'per_page': 'Must be between 1 and 100.'}}"]
    assert own[0].failure_type.value == "system_error"
    assert requests_mock.call_count == 1


def test_401_during_a_read_is_a_config_error(requests_mock, sleeps):
    requests_mock.get(f"{SANDBOX}/conversations", status_code=401, json={"error": {"authentication": "no"}})
    output = run_read(make_config(environment="sandbox"), "conversations", expecting_exception=True)
    error = output.errors[0].trace.error
    assert error.failure_type.value == "config_error"
    assert "rejected the API key" in error.message and "sandbox environment" in error.message
