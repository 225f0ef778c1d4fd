"""A new user's first hour: a key pasted with whitespace, check with start_date today, a future start date, a
business id with a typo, and a key Partoo rejects during a read of an analytics stream."""

import datetime as dt
import json

import pytest

from .conftest import API_KEY, BASE, CHECKED, make_config, serve_check

ANALYTICS = f"{BASE}/review_analytics/metrics"


def catalog_file(tmp_path, stream: str) -> str:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"streams": [{
        "stream": {"name": stream, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}))
    return str(path)


def no_key_in(text: str, key: str) -> bool:
    """Neither the key nor any form of it that JSON or repr would write."""
    forms = {key, json.dumps(key)[1:-1], repr(key)[1:-1], key.strip()}
    return not any(form and form in text for form in forms)


@pytest.mark.parametrize("pasted", [f"{API_KEY}\n", f" {API_KEY}", f"\t{API_KEY}\r\n"])
def test_a_key_pasted_with_whitespace_around_it_is_sent_without_it_and_never_printed(cli, requests_mock, sleeps, pasted):
    serve_check(requests_mock, status={"conversations": 401})
    result = cli("check", make_config(api_key=pasted))
    assert result.connection_status["status"] == "FAILED"
    assert "Partoo rejected the API key (HTTP 401)" in result.connection_status["message"]
    assert {r.headers["x-APIKey"] for r in requests_mock.request_history} == {API_KEY}
    assert no_key_in(result.stdout, pasted)


@pytest.mark.parametrize("pasted", [f"{API_KEY[:5]} {API_KEY[5:]}", f"{API_KEY}\n{API_KEY}", f'{API_KEY}"', "kéy"])
def test_a_key_with_whitespace_or_other_characters_inside_is_refused_before_any_request(cli, requests_mock, sleeps, pasted):
    serve_check(requests_mock)
    result = cli("check", make_config(api_key=pasted))
    assert result.connection_status["status"] == "FAILED"
    assert "api_key has a space, a line break or a character that a Partoo API key does not have" in (
        result.connection_status["message"])
    assert requests_mock.request_history == []
    assert no_key_in(result.stdout, pasted)


def test_check_with_start_date_today_asks_one_page_per_endpoint(cli, requests_mock, sleeps):
    serve_check(requests_mock)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    result = cli("check", make_config(start_date=today))
    assert result.connection_status == {"status": "SUCCEEDED"}
    asked = [r.path.removeprefix("/v2") for r in requests_mock.request_history]
    assert asked == [path for path, _ in CHECKED.values()]


@pytest.mark.parametrize("field", ["start_date", "analytics_start_date"])
@pytest.mark.parametrize("command", ["check", "read"])
def test_a_start_date_in_the_future_is_one_config_error_before_any_request(cli, tmp_path, requests_mock, sleeps, field, command):
    serve_check(requests_mock)
    next_month = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)).date().isoformat()
    extra = ["--catalog", catalog_file(tmp_path, "businesses")] if command == "read" else []
    result = cli(command, make_config(**{field: next_month}), *extra)
    sentence = f"{field} ({next_month}) is in the future, so a sync would load nothing"
    if command == "check":
        assert result.connection_status["status"] == "FAILED"
        assert sentence in result.connection_status["message"]
    else:  # raised before any stream: the real CLI prints it as its one trace (airbyte-cdk's exception hook)
        assert result.exit_code == 1 and result.raised.failure_type.value == "config_error"
        assert sentence in result.raised.message
    assert requests_mock.request_history == []


def test_a_start_date_of_tomorrow_is_accepted_for_a_time_zone_ahead_of_utc(cli, requests_mock, sleeps):
    serve_check(requests_mock)
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).date().isoformat()
    assert cli("check", make_config(start_date=tomorrow)).connection_status == {"status": "SUCCEEDED"}


def test_check_names_a_business_id_the_key_cannot_see(cli, requests_mock, sleeps):
    serve_check(requests_mock, skip=("businesses",))
    requests_mock.get(f"{BASE}/business/search", json={"businesses": [{"id": "b1", "modified": 1.0}],
                                                       "page": 1, "max_page": 1, "count": 1})
    result = cli("check", make_config(business_ids=["b1", "b1-typo"]))
    assert result.connection_status["status"] == "FAILED"
    assert "business_ids names b1-typo, which the API key cannot see" in result.connection_status["message"]
    asked = [r for r in requests_mock.request_history if r.path.endswith("/business/search")]
    assert [(r.qs["business__in"], r.qs["per_page"]) for r in asked] == [(["b1,b1-typo"], ["100"])]


def test_check_passes_when_every_business_id_is_listed(cli, requests_mock, sleeps):
    serve_check(requests_mock)
    assert cli("check", make_config(business_ids=["b1"])).connection_status == {"status": "SUCCEEDED"}


def test_a_rejected_key_ends_an_analytics_stream_after_its_first_window(cli, tmp_path, requests_mock, sleeps):
    requests_mock.get(ANALYTICS, status_code=401, json={"errors": {"authentication": "User not authenticated"}})
    result = cli("read", make_config(analytics_start_date="2024-01-01", num_workers=2), "--catalog",
                 catalog_file(tmp_path, "review_metrics_daily"))
    windows = len(requests_mock.request_history)
    assert 1 <= windows <= 2  # the windows already in flight when the first 401 came back, no more
    messages = [e["message"] for e in result.errors]
    assert sum("Partoo rejected the API key (HTTP 401)" in m for m in messages) == windows
    assert result.exit_code == 1
    assert sleeps == []
