"""Bad config: a config_error with one sentence saying what to fix, no traceback, before any request."""

import pytest

from .conftest import API_KEY, make_config

BAD_CONFIGS = {
    "missing api_key": ({"environment": "production"}, "Set api_key"),
    "empty api_key": (make_config(api_key="  "), "Set api_key"),
    "api_key not a string": (make_config(api_key=12345), "Set api_key"),
    "unknown environment": (make_config(environment="staging"), "Set environment to production or sandbox"),
    "base_url not a URL": (make_config(base_url="api.partoo.co"), "Set base_url to a URL"),
    "base_url ftp": (make_config(base_url="ftp://api.partoo.co/v2"), "Set base_url to a URL"),
    "base_url plain http to a remote host": (make_config(base_url="http://proxy.example.com/v2"),
                                             "base_url must use https:// for proxy.example.com"),
    "base_url plain http to a private address": (make_config(base_url="http://10.0.0.5/v2"),
                                                 "base_url must use https://"),
    "base_url plain http to another loopback address": (make_config(base_url="http://127.0.0.2/v2"),
                                                        "base_url must use https://"),
    "business_ids a string": (make_config(business_ids="b1,b2"), "Set business_ids to a list"),
    "business_ids of numbers": (make_config(business_ids=[1, 2]), "Set business_ids to a list"),
    "start_date malformed": (make_config(start_date="31/01/2024"), "Set start_date to a date"),
    "start_date impossible": (make_config(start_date="2024-13-45"), "Set start_date to a date"),
    "requests_per_minute zero": (make_config(requests_per_minute=0), "Set requests_per_minute"),
    "requests_per_minute text": (make_config(requests_per_minute="300"), "Set requests_per_minute"),
    "num_workers too many": (make_config(num_workers=64), "Set num_workers to a whole number from 1 to 16"),
    "num_workers boolean": (make_config(num_workers=True), "Set num_workers"),
    "full_list_every_hours negative": (make_config(full_list_every_hours=-1), "Set full_list_every_hours to a whole number"),
    "full_list_every_hours text": (make_config(full_list_every_hours="24"), "Set full_list_every_hours"),
}


@pytest.mark.parametrize("command", ["check", "discover", "read"])
@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_is_one_config_error_sentence_before_any_request(cli, requests_mock, name, command):
    config, expected = BAD_CONFIGS[name]
    extra = ["--catalog", "/nonexistent"] if command == "read" else []
    result = cli(command, config, *extra)
    assert result.exit_code == 1
    assert result.raised is None  # the connector's own exit, not an exception airbyte-cdk re-raised
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error["failure_type"] == "config_error"
    assert error["message"].startswith(expected)
    assert error["message"].count(". ") == 0 and error["message"].endswith(".")  # one sentence
    assert not error.get("stack_trace")
    assert "Traceback" not in result.stdout
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("base_url", ["https://proxy.example.com/v2", "http://localhost:8080/v2",
                                      "http://127.0.0.1:9000/v2", "http://[::1]:9000/v2"])
def test_https_and_loopback_base_urls_are_accepted(cli, requests_mock, base_url):
    requests_mock.get(f"{base_url}/conversations", json={"conversations": [], "next_cursor": None})
    assert cli("check", make_config(base_url=base_url)).connection_status["status"] == "SUCCEEDED"


@pytest.mark.parametrize("start_date", ["2024-01-31", "2024-01-31T00:00:00Z", "2024-01-31T10:00:00+02:00",
                                        "2024-01-31 10:00:00.123456+00:00", ""])
def test_dates_and_date_times_are_accepted_as_start_date(cli, requests_mock, start_date):
    requests_mock.get("https://api.partoo.co/v2/conversations", json={"conversations": [], "next_cursor": None})
    assert cli("check", make_config(start_date=start_date)).connection_status["status"] == "SUCCEEDED"


def test_unreadable_config_file_is_a_config_error(cli, tmp_path):
    result = cli("check", None, "--config", str(tmp_path / "missing.json"))
    assert result.exit_code == 1
    assert result.errors[0]["failure_type"] == "config_error"
    assert "Could not read the config file" in result.errors[0]["message"]


# The key pasted into the wrong field: the sentence saying what to fix must not quote the value.
@pytest.mark.parametrize("field", ["environment", "base_url", "business_ids", "start_date", "requests_per_minute",
                                   "num_workers"])
@pytest.mark.parametrize("command", ["check", "read"])
def test_the_config_error_never_quotes_the_api_key(cli, requests_mock, field, command):
    extra = ["--catalog", "/nonexistent"] if command == "read" else []
    result = cli(command, make_config(**{field: API_KEY}), *extra)
    assert result.exit_code == 1
    assert [e["failure_type"] for e in result.errors] == ["config_error"]
    assert field in result.errors[0]["message"]  # the error names the field to fix...
    assert API_KEY not in result.stdout  # ...without quoting what was in it
    assert requests_mock.call_count == 0
