"""check: what the key can read, one request of one record per endpoint, through the streams' own requesters;
failures a user can act on, and an answer at the first server failure (a person is waiting)."""

from typing import Any, Dict, Optional

from .conftest import CHECKED, serve_check

import pytest
import requests
import yaml

from .conftest import API_KEY, BASE, SANDBOX, make_config

ENDPOINTS = CHECKED


def serve(requests_mock: Any, base: str = BASE, status: Optional[Dict[str, int]] = None, **answers: Any) -> None:
    serve_check(requests_mock, base, status, **answers)


def warnings(caplog) -> list:
    """The warnings check logged (in process, pytest's log capture holds them; the CLI prints them as LOG
    messages: integration_tests/test_check_runtimes.py)."""
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "config override" not in r.getMessage()]


def test_check_asks_each_endpoint_for_one_record_with_the_key(cli, requests_mock, sleeps, caplog):
    serve(requests_mock)
    result = cli("check", make_config())
    assert result.connection_status == {"status": "SUCCEEDED"}
    asked = [r.path.removeprefix("/v2") for r in requests_mock.request_history]
    assert asked == [path for path, _ in ENDPOINTS.values()]
    assert all(r.qs.get("per_page", ["1"]) == ["1"] for r in requests_mock.request_history)
    assert all(r.headers["x-APIKey"] == API_KEY for r in requests_mock.request_history)
    assert warnings(caplog) == []
    assert sleeps == []


def test_check_uses_the_sandbox_server_when_asked(cli, requests_mock, sleeps):
    serve(requests_mock, base=SANDBOX)
    assert cli("check", make_config(environment="sandbox")).connection_status["status"] == "SUCCEEDED"
    assert all(r.url.startswith(SANDBOX) for r in requests_mock.request_history)


def test_check_uses_base_url_over_the_environment(cli, requests_mock, sleeps):
    serve(requests_mock, base="http://127.0.0.1:8000/v2")
    config = make_config(environment="sandbox", base_url="http://127.0.0.1:8000/v2/")
    assert cli("check", config).connection_status["status"] == "SUCCEEDED"


@pytest.mark.parametrize("body", [{"errors": {"authentication": "User not authenticated"}},
                                  {"error": {"authentication": "User not authenticated"}}])
def test_check_on_401_says_the_key_was_rejected_and_to_check_its_environment(cli, requests_mock, sleeps, body):
    serve(requests_mock, conversations={"status_code": 401, "json": body})
    result = cli("check", make_config())
    status = result.connection_status
    assert status["status"] == "FAILED"
    assert "Partoo rejected the API key (HTTP 401): check that it is current" in status["message"]
    assert "production environment" in status["message"]
    assert "production keys do not work on the sandbox" in status["message"]
    assert result.exit_code == 0  # a failed check is an answer, not a crash
    assert len(requests_mock.request_history) == 1  # a 401 is not retried, and nothing else is asked


def test_check_fails_naming_the_businesses_the_key_may_not_read(cli, requests_mock, sleeps):
    serve(requests_mock, status={"businesses": 403})
    result = cli("check", make_config(business_ids=["b-one", "b-two"]))
    assert result.connection_status["status"] == "FAILED"
    assert ("Partoo refused access to businesses b-one, b-two (HTTP 403): the API key's user may not read them; "
            "remove them from business_ids") in result.connection_status["message"]
    assert requests_mock.request_history[1].qs["business__in"] == ["b-one,b-two"]


def test_check_fails_for_a_key_that_may_read_no_business(cli, requests_mock, sleeps):
    serve(requests_mock, status={stream: 403 for stream in ENDPOINTS})
    result = cli("check", make_config())
    assert result.connection_status["status"] == "FAILED"
    assert "the API key's user may read none of them" in result.connection_status["message"]


def test_check_passes_without_the_messages_product_and_says_which_streams_are_skipped(cli, requests_mock, sleeps, caplog):
    serve(requests_mock, status={"conversations": 403})
    result = cli("check", make_config())
    assert result.connection_status == {"status": "SUCCEEDED"}
    assert warnings(caplog) == [
        "Partoo refused access to conversations (HTTP 403): the organization needs Partoo's Messages product and the "
        "API key's user access to its conversations; the conversations and messages streams are skipped."]
    assert len(requests_mock.request_history) == len(ENDPOINTS)  # every other endpoint was still asked


def test_check_passes_for_a_role_that_reads_only_some_streams_and_names_what_each_other_needs(cli, requests_mock, sleeps, caplog):
    refused = ["reviews", "users", "group_sections", "custom_fields"]
    serve(requests_mock, status={stream: 403 for stream in refused})
    result = cli("check", make_config())
    assert result.connection_status == {"status": "SUCCEEDED"}
    said = warnings(caplog)
    assert len(said) == 4
    assert "Review Management product" in said[0] and "reviews and review_replies streams are skipped" in said[0]
    assert "(Org Admin or Org Manager); the users stream is skipped" in said[1]
    assert "the group_sections and groups streams are skipped" in said[2]
    assert "custom fields (Org Admin); the custom_fields stream is skipped" in said[3]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_check_on_a_failing_server_answers_at_once_that_partoo_is_failing(cli, requests_mock, sleeps, status):
    serve(requests_mock, **{stream: {"status_code": status, "json": {}} for stream in ENDPOINTS})
    result = cli("check", make_config())
    assert result.connection_status["status"] == "FAILED"
    assert (f"Partoo's server https://api.partoo.co is failing (HTTP {status}): nothing is wrong with the config "
            "as far as the connector can tell; test again in a few minutes") in result.connection_status["message"]
    assert len(requests_mock.request_history) == 1
    assert sleeps == []  # no backoff: a sync retries, a check answers


def test_check_on_a_rate_limit_says_when_to_test_again_without_waiting(cli, requests_mock, sleeps):
    serve(requests_mock, conversations={"status_code": 429, "json": {}, "headers": {"Retry-After": "3600"}})
    result = cli("check", make_config())
    assert result.connection_status["status"] == "FAILED"
    assert "rate limit for this organization is reached (HTTP 429" in result.connection_status["message"]
    assert "test again in 3600 seconds" in result.connection_status["message"]
    assert len(requests_mock.request_history) == 1
    assert sleeps == []


@pytest.mark.parametrize("error, said", [
    (requests.exceptions.ReadTimeout, "is too slow to answer (ReadTimeout)"),
    (requests.exceptions.ConnectTimeout, "is too slow to answer (ConnectTimeout)"),
    (requests.exceptions.ChunkedEncodingError, "dropped the connection (ChunkedEncodingError)"),
])
def test_check_on_a_stuck_or_dropped_connection_answers_at_once(cli, requests_mock, sleeps, error, said):
    serve(requests_mock, conversations={"exc": error})
    result = cli("check", make_config())
    assert result.connection_status["status"] == "FAILED"
    assert f"Partoo's server https://api.partoo.co {said}: test again in a few minutes" in result.connection_status["message"]
    assert len(requests_mock.request_history) == 1
    assert sleeps == []


def test_check_on_a_page_that_is_not_json_says_so_at_once(cli, requests_mock, sleeps):
    serve(requests_mock, conversations={"status_code": 200, "text": "<html>Maintenance</html>"})
    result = cli("check", make_config())
    assert "answered HTTP 200 with a body that is not the API's JSON" in result.connection_status["message"]
    assert len(requests_mock.request_history) == 1


def test_a_check_attempt_cannot_outlast_a_minute():
    """check makes one attempt per request and stops at the first failure: a server that hangs holds it for
    at most the requester's connect and read timeouts."""
    from source_partoo.source import MANIFEST_PATH

    requester = yaml.safe_load(MANIFEST_PATH.read_text())["definitions"]["requester"]
    assert requester["connect_timeout_in_seconds"] + requester["read_timeout_in_seconds"] < 60


def test_a_sync_keeps_retrying_what_a_check_gives_up_on(cli, requests_mock, sleeps):
    """The fail-fast answer is the check's only: the same 500 then 200 in a read is retried."""
    from .conftest import catalog, run_read

    requests_mock.get(f"{BASE}/custom_fields", [{"status_code": 500, "json": {}},
                                                {"status_code": 200, "json": ENDPOINTS["custom_fields"][1]}])
    output = run_read(make_config(), "custom_fields")
    assert [m.record.data["id"] for m in output.records] == [5]
    assert len(requests_mock.request_history) == 2 and sleeps[0] > 1  # a backoff, then the retry


@pytest.mark.parametrize("key", ["1e3", "0x1f", "None", "True", "1_000", "k" * 120])
def test_the_api_key_reaches_the_api_unchanged(cli, requests_mock, sleeps, key):
    serve(requests_mock)
    assert cli("check", make_config(api_key=key)).connection_status["status"] == "SUCCEEDED"
    assert {r.headers["x-APIKey"] for r in requests_mock.request_history} == {key}
