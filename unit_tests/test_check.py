"""check: one cheap request, and failures a user can act on."""

import pytest

from .conftest import API_KEY, BASE, SANDBOX, make_config


def test_check_succeeds_with_one_request_of_one_conversation(cli, requests_mock):
    requests_mock.get(f"{BASE}/conversations", json={"conversations": [{"id": 1}], "count": 1, "next_cursor": "abc"})
    result = cli("check", make_config())
    assert result.connection_status["status"] == "SUCCEEDED"
    conversations = [r for r in requests_mock.request_history if r.path.endswith("/conversations")]
    assert len(conversations) == 1  # the other endpoints get one request each: test_more_streams_check.py
    request = conversations[0]
    assert request.qs["per_page"] == ["1"]
    assert request.headers["x-APIKey"] == API_KEY


def test_check_uses_the_sandbox_server_when_asked(cli, requests_mock):
    requests_mock.get(f"{SANDBOX}/conversations", json={"conversations": [], "count": 0, "next_cursor": None})
    assert cli("check", make_config(environment="sandbox")).connection_status["status"] == "SUCCEEDED"
    assert requests_mock.request_history[0].url.startswith(SANDBOX)


def test_check_uses_base_url_over_the_environment(cli, requests_mock):
    requests_mock.get("http://127.0.0.1:8000/v2/conversations", json={"conversations": [], "next_cursor": None})
    config = make_config(environment="sandbox", base_url="http://127.0.0.1:8000/v2/")
    assert cli("check", config).connection_status["status"] == "SUCCEEDED"


@pytest.mark.parametrize("body", [{"errors": {"authentication": "User not authenticated"}},
                                  {"error": {"authentication": "User not authenticated"}}])
def test_check_on_401_says_the_key_was_rejected_and_to_check_its_environment(cli, requests_mock, body):
    requests_mock.get(f"{BASE}/conversations", status_code=401, json=body)
    result = cli("check", make_config())
    status = result.connection_status
    assert status["status"] == "FAILED"
    assert "rejected the API key" in status["message"]
    assert "production environment" in status["message"]
    assert "production keys do not work on the sandbox" in status["message"]
    assert status["message"].startswith("Partoo rejected the API key (HTTP 401)")
    assert result.exit_code == 0  # a failed check is an answer, not a crash
    assert len(requests_mock.request_history) == 1  # a 401 is not retried


@pytest.mark.parametrize("body", [{"errors": {"authorization": "Operation not allowed"}},
                                  {"error": {"authorization": "Operation not allowed"}}])
def test_check_on_403_names_the_businesses_and_the_messages_product(cli, requests_mock, body):
    requests_mock.get(f"{BASE}/conversations", status_code=403, json=body)
    result = cli("check", make_config(business_ids=["b-one", "b-two"]))
    message = result.connection_status["message"]
    assert result.connection_status["status"] == "FAILED"
    assert "b-one, b-two" in message
    assert "Messages product" in message
    assert message.startswith("Partoo refused access (HTTP 403)")


def test_check_on_403_without_a_filter_still_says_what_to_do(cli, requests_mock):
    requests_mock.get(f"{BASE}/conversations", status_code=403, json={"errors": {"authorization": "no"}})
    message = cli("check", make_config()).connection_status["message"]
    assert "may not read these conversations;" in message and "Messages product" in message


@pytest.mark.parametrize("key", ["1e3", "0x1f", "None", "True", "1_000", "k" * 120])
def test_the_api_key_reaches_the_api_unchanged(cli, requests_mock, key):
    requests_mock.get(f"{BASE}/conversations", json={"conversations": [], "next_cursor": None})
    assert cli("check", make_config(api_key=key)).connection_status["status"] == "SUCCEEDED"
    assert requests_mock.request_history[0].headers["x-APIKey"] == key
