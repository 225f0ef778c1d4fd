"""The API key never appears in any output: logs, traces, exceptions, check messages."""

import json

import pytest

from .conftest import API_KEY, BASE, conversation, make_config

ECHO = {"errors": {"authentication": f"User not authenticated (key {API_KEY})"}}


@pytest.fixture
def catalog_path(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"streams": [{
        "stream": {"name": "conversations", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}))
    return str(path)


@pytest.mark.parametrize("status", [400, 401, 403, 500])
@pytest.mark.parametrize("debug", [False, True])
def test_key_echoed_by_the_server_is_masked_in_read_output(cli, requests_mock, sleeps, catalog_path, status, debug):
    requests_mock.get(f"{BASE}/conversations", status_code=status, json=ECHO)
    extra = ["--catalog", catalog_path] + (["--debug"] if debug else [])
    result = cli("read", make_config(), *extra)
    assert result.errors or status == 403  # the failure is reported (a 403 skips the stream with a warning)...
    assert API_KEY not in result.stdout  # ...without the key


# A 400 is the case that needs the manifest's mask: its message quotes Partoo's own words, and airbyte-cdk
# prints that message unmasked (the read's error trace, the check's connection status). The other
# statuses prove the rest: their messages never quote the body, and airbyte-cdk masks its logs.
@pytest.mark.parametrize("status", [400, 401, 403, 500])
@pytest.mark.parametrize("debug", [False, True])
def test_key_echoed_by_the_server_is_masked_in_check_output(cli, requests_mock, sleeps, status, debug):
    requests_mock.get(f"{BASE}/business/search", status_code=status, json=ECHO)  # the first endpoint check asks
    result = cli("check", make_config(), *(["--debug"] if debug else []))
    assert result.connection_status["status"] == "FAILED"
    assert API_KEY not in result.stdout


def test_the_400_message_still_says_what_partoo_said_with_the_key_masked(cli, requests_mock, sleeps, catalog_path):
    # The filter masks the key, not the message around it.
    requests_mock.get(f"{BASE}/conversations", status_code=400, json=ECHO)
    result = cli("read", make_config(), "--catalog", catalog_path)
    own = [e["message"] for e in result.errors if e.get("stream_descriptor", {}).get("name") == "conversations"]
    assert own == ["Partoo rejected the request (HTTP 400): {'authentication': 'User not authenticated (key ****)'}"]
    requests_mock.get(f"{BASE}/business/search", status_code=400, json=ECHO)
    check = cli("check", make_config())
    assert own[0] in check.connection_status["message"]


def test_successful_debug_read_never_prints_the_key(cli, requests_mock, sleeps, catalog_path):
    requests_mock.get(f"{BASE}/conversations", json={"conversations": [conversation(1)], "next_cursor": None})
    result = cli("read", make_config(), "--catalog", catalog_path, "--debug")
    assert len(result.of_type("RECORD")) == 1
    assert requests_mock.request_history[0].headers["x-APIKey"] == API_KEY
    assert API_KEY not in result.stdout


def test_the_state_never_holds_the_key(partoo):
    """The state the platform saves (and passes back) holds cursors only, never the key, not even masked."""
    from airbyte_cdk.models import AirbyteMessageSerializer, SyncMode

    from .conftest import message, run_read

    partoo.conversations = [conversation(1), conversation(2, last="2024-03-02 10:00:00.000000+00:00")]
    partoo.messages = {1: [message(100, 1, "2024-03-01 10:00:00.000000+00:00")],
                       2: [message(200, 2, "2024-03-02 10:00:00.000000+00:00")]}
    output = run_read(make_config(), "conversations", "messages", mode=SyncMode.incremental)
    states = [json.dumps(AirbyteMessageSerializer.dump(m)) for m in output.state_messages]
    assert {json.loads(s)["state"]["stream"]["stream_descriptor"]["name"] for s in states} == {"conversations", "messages"}
    assert any("2024-03-02 10:00:00" in s for s in states)  # the scan sees the cursors...
    assert not [s for s in states if API_KEY in s or "****" in s]  # ...and no key, masked or not
