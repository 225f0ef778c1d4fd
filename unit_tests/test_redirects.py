"""The API key goes to the API's origin (scheme, host, port) and nowhere else, redirects included (#15).

requests strips only an Authorization header when a redirect leaves the host; x-APIKey would follow.
"""

import json
import re

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_partoo.components import ApiKeyForPartooOnly

from .conftest import API_KEY, BASE, conversation, make_config, message

ELSEWHERE = "https://elsewhere.example"
ADVICE = (
    "where the connector never sends the API key, so it stopped: check base_url (or environment, when base_url is "
    "empty) and any proxy between the connector and Partoo."
)


def refusal(source: str, target: str, why: str) -> str:
    return f"The API at {source} redirected to {target} ({why}), {ADVICE}"


@pytest.fixture
def catalog_path(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"streams": [{
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for name in ("conversations", "messages")]}))
    return str(path)


@pytest.fixture
def elsewhere(requests_mock):
    """Whatever the other origins would answer: a page that would make check succeed."""
    page = {"conversations": [conversation(9)], "messages": [], "next_cursor": None}
    for root in (ELSEWHERE, "http://api.partoo.co", "https://api.partoo.co:8443"):
        requests_mock.get(re.compile("^" + re.escape(root) + "/"), json=page)
    return requests_mock


def sent_to(requests_mock, root: str):
    return [r for r in requests_mock.request_history if r.url.startswith(root + "/")]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_check_refuses_a_redirect_to_another_host_and_says_which_and_what_to_check(cli, elsewhere, status):
    elsewhere.get(f"{BASE}/conversations", status_code=status, headers={"Location": f"{ELSEWHERE}/v2/conversations"})
    result = cli("check", make_config())
    # airbyte-cdk's CheckStream says "Stream conversations is not available: <the connector's sentence>"
    assert result.connection_status["status"] == "FAILED"
    assert refusal("https://api.partoo.co", ELSEWHERE, "another host") in result.connection_status["message"]
    assert sent_to(elsewhere, ELSEWHERE) == []  # the other host receives no request at all
    assert len(elsewhere.request_history) == 1  # and the refusal is not retried
    assert API_KEY not in result.stdout


@pytest.mark.parametrize("location, target, why", [
    ("http://api.partoo.co/v2/conversations", "http://api.partoo.co", "plain http instead of https"),
    ("https://api.partoo.co:8443/v2/conversations", "https://api.partoo.co:8443", "another port"),
    ("//elsewhere.example/v2/conversations", ELSEWHERE, "another host"),  # scheme-relative
])
def test_check_refuses_https_to_http_and_other_origins_of_the_same_host(cli, elsewhere, location, target, why):
    elsewhere.get(f"{BASE}/conversations", status_code=302, headers={"Location": location})
    result = cli("check", make_config())
    assert result.connection_status["status"] == "FAILED"
    assert refusal("https://api.partoo.co", target, why) in result.connection_status["message"]
    assert [r.url for r in elsewhere.request_history] == [f"{BASE}/conversations?per_page=1"]


@pytest.mark.parametrize("path", ["conversations", "messages"])
def test_read_of_any_stream_fails_as_a_config_error_instead_of_following_the_key(
        cli, partoo, elsewhere, catalog_path, path):
    partoo.conversations = [conversation(1), conversation(2)]
    partoo.messages = {1: [message(100, 1, "2024-03-01 10:00:00.000000+00:00")]}
    elsewhere.get(f"{BASE}/{path}", status_code=302, headers={"Location": f"{ELSEWHERE}/v2/{path}?page=2"})
    result = cli("read", make_config(), "--catalog", catalog_path)
    assert result.exit_code == 1
    refused = [e for e in result.errors if e["message"] == refusal("https://api.partoo.co", ELSEWHERE, "another host")]
    assert refused and all(e["failure_type"] == "config_error" for e in refused)
    assert sent_to(elsewhere, ELSEWHERE) == []
    # each refused request was sent once, never retried: the list's first page once for each stream (messages
    # reads the list too); for messages, the first conversation's, and the second's only if it was already in
    # flight (a stream sends nothing more once a request failed with a config_error: StopAfterConfigError)
    sent = len(partoo.requests(f"/{path}"))
    assert sent == 2 if path == "conversations" else 1 <= sent <= 2
    assert API_KEY not in result.stdout


def test_a_redirect_that_leaves_on_its_second_hop_is_refused_too(cli, elsewhere):
    elsewhere.get(f"{BASE}/conversations", status_code=302, headers={"Location": "/v2/moved"})
    elsewhere.get(f"{BASE}/moved", status_code=307, headers={"Location": f"{ELSEWHERE}/v2/conversations"})
    result = cli("check", make_config())
    assert refusal("https://api.partoo.co", ELSEWHERE, "another host") in result.connection_status["message"]
    assert [r.path for r in elsewhere.request_history] == ["/v2/conversations", "/v2/moved"]
    assert elsewhere.request_history[1].headers["x-APIKey"] == API_KEY  # the same origin: fine


def test_a_redirect_within_the_origin_is_followed_with_the_key_for_every_stream(cli, partoo, catalog_path):
    partoo.conversations = [conversation(1), conversation(2)]
    partoo.messages = {1: [message(100, 1, "2024-03-01 10:00:00.000000+00:00")], 2: []}
    partoo.page_size = 1  # the cursor survives the redirect too

    def moved(request, context):
        context.status_code = 308
        # half absolute, half relative, as servers do
        target = request.url.replace("/old/v2/", "/v2/")
        context.headers["Location"] = target if "conversations" in request.path else target[len("https://api.partoo.co"):]
        return ""

    partoo.mocker.get("https://api.partoo.co/old/v2/conversations", text=moved)
    partoo.mocker.get("https://api.partoo.co/old/v2/messages", text=moved)
    result = cli("read", make_config(base_url="https://api.partoo.co/old/v2"), "--catalog", catalog_path)
    assert result.exit_code == 0, result.errors
    records = {(m["record"]["stream"], m["record"]["data"]["id"]) for m in result.of_type("RECORD")}
    assert records == {("conversations", 1), ("conversations", 2), ("messages", 100)}
    history = partoo.mocker.request_history
    assert {r.hostname for r in history} == {"api.partoo.co"}
    assert all(r.headers["x-APIKey"] == API_KEY for r in history)
    followed = [r for r in history if r.path.startswith("/v2/")]
    # each request redirected once, then served: the list's two pages (read by each stream), a page per
    # conversation
    assert len(followed) == len(history) / 2 == 2 * 2 + 2
    assert sorted(str(r.qs.get("cursor")) for r in followed if r.path.endswith("/conversations")) == \
        ["None", "None", "['off-1']", "['off-1']"]


def test_http_to_a_loopback_api_is_still_same_origin_only(cli, requests_mock):
    requests_mock.get("http://127.0.0.1:8000/v2/conversations", status_code=302,
                      headers={"Location": "http://localhost:8000/v2/conversations"})
    requests_mock.get("http://localhost:8000/v2/conversations", json={"conversations": [], "next_cursor": None})
    result = cli("check", make_config(base_url="http://127.0.0.1:8000/v2"))
    assert refusal("http://127.0.0.1:8000", "http://localhost:8000", "another host") in result.connection_status["message"]
    assert len(requests_mock.request_history) == 1


def test_the_key_is_never_put_on_a_request_to_another_origin():
    """Every stream's URL is the API root's; a future stream pointing elsewhere fails instead of signing."""
    auth = ApiKeyForPartooOnly(api_token="{{ config['api_key'] | pprint }}", header="x-APIKey",
                               api_url="{{ config['_partoo_api_url'] }}",
                               config={"api_key": "1e3", "_partoo_api_url": BASE}, parameters={})
    signed = auth(requests.Request("GET", f"{BASE}/conversations").prepare())
    assert signed.headers["x-APIKey"] == "1e3"  # byte for byte, as ApiKeyAuthenticator would send it
    with pytest.raises(AirbyteTracedException) as refused:
        auth(requests.Request("GET", f"{ELSEWHERE}/v2/conversations").prepare())
    assert refused.value.failure_type == FailureType.system_error
