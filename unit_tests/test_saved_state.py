"""`read --state`: every state a released version wrote keeps working; an edited, copied or legacy state
either has a safe reading (used, with a warning) or stops the sync before any request with one sentence."""

import json
from typing import Any, Dict, List

import pytest

from .conftest import conversation, make_config, message

# Exactly what 0.1.0, 0.1.1 and 0.1.2 emit after a sync whose newest activity is 2024-03-06 10:02
# (unit_tests/test_messages_and_incremental.py::test_first_incremental_sync_emits_everything_and_small_state
# of each version, and the CLI against the emulator): the three versions share these shapes.
NEWEST = "2024-03-06 10:02:00.000000+0000"
RELEASED_CONVERSATIONS = {"last_activity_at": NEWEST}
RELEASED_MESSAGES = {
    "use_global_cursor": True,
    "state": {"date": NEWEST},
    "lookback_window": 1,
    "parent_state": {"conversations": {"last_activity_at": NEWEST}},
}


def seed(partoo) -> None:
    """Six conversations; conversation c has messages at 2024-03-0c 10:00, 10:01, 10:02."""
    partoo.conversations, partoo.messages = [], {}
    for c in range(1, 7):
        partoo.messages[c] = [message(c * 100 + k, c, f"2024-03-{c:02d} 10:{k:02d}:00.000000+00:00") for k in range(3)]
        partoo.conversations.append(conversation(c, last=partoo.messages[c][-1]["date"]))


def stream_state(name: str, state: Any) -> Dict[str, Any]:
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": state}}


@pytest.fixture
def read_with_state(cli, tmp_path):
    def invoke(state: Any, *streams: str):
        streams = streams or ("conversations", "messages")
        cursor = {"conversations": "last_activity_at", "messages": "date"}
        catalog = {"streams": [{
            "stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental", "cursor_field": [cursor[s]], "destination_sync_mode": "append_dedup",
        } for s in streams]}
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        (tmp_path / "state.json").write_text(json.dumps(state))
        return cli("read", make_config(), "--catalog", str(tmp_path / "catalog.json"),
                   "--state", str(tmp_path / "state.json"))
    return invoke


def records(result, stream: str) -> List[int]:
    return sorted(m["record"]["data"]["id"] for m in result.of_type("RECORD") if m["record"]["stream"] == stream)


def warnings(result) -> List[str]:
    return [m["log"]["message"] for m in result.of_type("LOG") if m["log"]["level"] == "WARN"]


def assert_refused_before_any_request(result, partoo, *words: str) -> None:
    assert result.exit_code == 1
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error["failure_type"] == "config_error"
    for word in words:
        assert word in error["message"]
    assert "reset the" in error["message"]
    assert partoo.mocker.call_count == 0
    assert not result.of_type("RECORD")


@pytest.mark.parametrize("lookback", [0, 1, 30])  # seconds: less than a minute between messages
def test_a_released_state_keeps_a_quiet_sync_quiet(partoo, read_with_state, lookback):
    seed(partoo)
    state = [stream_state("conversations", RELEASED_CONVERSATIONS),
             stream_state("messages", dict(RELEASED_MESSAGES, lookback_window=lookback))]
    result = read_with_state(state)
    assert result.exit_code == 0 and not result.errors
    assert records(result, "conversations") == [6]  # the boundary conversation, at least once
    assert records(result, "messages") == [602]
    assert not warnings(result)
    assert [int(r.qs["conversation_id"][0]) for r in partoo.requests("/messages")] == [6]


def test_a_released_state_sees_what_changed_since(partoo, read_with_state):
    seed(partoo)
    partoo.messages[2].append(message(299, 2, "2024-03-09 08:00:00.000000+00:00"))
    partoo.conversations[1] = conversation(2, last="2024-03-09 08:00:00.000000+00:00")
    result = read_with_state([stream_state("conversations", RELEASED_CONVERSATIONS),
                              stream_state("messages", RELEASED_MESSAGES)])
    assert result.exit_code == 0
    assert records(result, "conversations") == [2, 6]
    assert records(result, "messages") == [299, 602]


def test_the_messages_state_in_its_global_form_is_read_too(partoo, read_with_state):
    seed(partoo)
    result = read_with_state([stream_state("messages", {"date": NEWEST})], "messages")
    assert result.exit_code == 0 and not warnings(result)
    assert records(result, "messages") == [602]


@pytest.mark.parametrize("stream", ["conversations", "messages"])
def test_a_state_with_only_unknown_keys_reads_the_stream_from_start_date_with_a_warning(partoo, read_with_state, stream):
    seed(partoo)
    result = read_with_state([stream_state(stream, {"foo": "bar"})], stream)
    assert result.exit_code == 0 and not result.errors
    assert len(records(result, stream)) == (6 if stream == "conversations" else 18)
    assert any(f"stream {stream} has no" in w and "foo" in w for w in warnings(result))


@pytest.mark.parametrize("stream, state, field, bad", [
    ("conversations", {"last_activity_at": "not-a-date"}, "last_activity_at", '"not-a-date"'),
    ("conversations", {"last_activity_at": 1700000000}, "last_activity_at", "1700000000"),
    ("messages", dict(RELEASED_MESSAGES, state={"date": "yesterday"}), "date", '"yesterday"'),
    ("messages", dict(RELEASED_MESSAGES, parent_state={"conversations": {"last_activity_at": "13/01/2024"}}),
     "parent_state.conversations.last_activity_at", '"13/01/2024"'),
])
def test_a_cursor_that_is_not_a_date_stops_before_any_request_naming_the_stream_and_value(
    partoo, read_with_state, stream, state, field, bad
):
    seed(partoo)
    result = read_with_state([stream_state(stream, state)], stream)
    assert_refused_before_any_request(result, partoo, f"stream {stream}", f"{field} = {bad}")


def test_the_legacy_format_is_read_as_per_stream_states(partoo, read_with_state):
    seed(partoo)
    result = read_with_state({"conversations": {"last_activity_at": "2024-03-05 00:00:00.000000+0000"},
                              "messages": {"date": "2024-03-05 00:00:00.000000+0000"}})
    assert result.exit_code == 0 and not result.errors
    assert records(result, "conversations") == [5, 6]
    assert records(result, "messages") == [500, 501, 502, 600, 601, 602]
    assert any("legacy format" in w for w in warnings(result))


def test_legacy_messages_carrying_data_are_read_too(partoo, read_with_state):
    seed(partoo)
    result = read_with_state([{"type": "LEGACY", "data": {"conversations": {"last_activity_at": NEWEST}}}],
                             "conversations")
    assert result.exit_code == 0
    assert records(result, "conversations") == [6]


def test_a_legacy_state_of_another_connector_is_refused(partoo, read_with_state):
    seed(partoo)
    result = read_with_state({"tickets": {"updated_at": "2024-01-01"}})
    assert_refused_before_any_request(result, partoo, "legacy format", "tickets")


def test_a_date_in_another_iso_form_is_read_with_a_warning(partoo, read_with_state):
    seed(partoo)
    result = read_with_state([stream_state("conversations", {"last_activity_at": "2024-03-05"})], "conversations")
    assert result.exit_code == 0
    assert records(result, "conversations") == [5, 6]
    assert any("read as 2024-03-05 00:00:00.000000+0000" in w for w in warnings(result))


@pytest.mark.parametrize("stream", ["conversations", "messages"])
def test_a_position_in_the_future_warns_naming_the_stream(partoo, read_with_state, stream):
    seed(partoo)
    future = "2999-01-01 00:00:00.000000+0000"
    state = {"last_activity_at": future} if stream == "conversations" else dict(
        RELEASED_MESSAGES, state={"date": future}, parent_state={"conversations": {"last_activity_at": future}})
    result = read_with_state([stream_state(stream, state)], stream)
    assert result.exit_code == 0
    assert records(result, stream) == []
    assert any(f"stream {stream} is in the future" in w for w in warnings(result))


def test_a_state_that_is_not_a_list_of_messages_is_refused(partoo, read_with_state):
    result = read_with_state("conversations")
    assert_refused_before_any_request(result, partoo, "not a list of Airbyte state messages")


# Every incremental stream the manifest declares follows the same rules (streams added later included).
from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser  # noqa: E402

from source_partoo.saved_state import StateError, check_state, incremental_streams  # noqa: E402
from source_partoo.source import resolved_manifest  # noqa: E402

MANIFEST = resolved_manifest()
STREAMS = incremental_streams(MANIFEST)


def written(stream: str, moment: str) -> str:
    """`moment` (ISO) as the stream's cursor writes it in its state."""
    import datetime as dt

    return DatetimeParser().format(dt.datetime.fromisoformat(moment), STREAMS[stream]["formats"][0])


def own_state(stream: str, moment: str) -> Dict[str, Any]:
    info = STREAMS[stream]
    if info["parent"] is None:
        return {info["cursor"]: written(stream, moment)}
    parent, parent_cursor = info["parent"]
    return {"use_global_cursor": True, "state": {info["cursor"]: written(stream, moment)}, "lookback_window": 5,
            "parent_state": {parent: {parent_cursor: written(parent, moment)}}}


def test_every_incremental_stream_is_covered():
    assert {"conversations", "messages"} <= set(STREAMS)
    assert len(STREAMS) >= 2


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_each_streams_own_state_is_used_as_it_is(stream):
    state = own_state(stream, "2024-03-06T10:02:00+00:00")
    messages, warned = check_state([stream_state(stream, state)], MANIFEST)
    assert warned == []
    assert json.loads(json.dumps(messages[0].stream.stream_state.__dict__, default=vars)) == state


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_each_streams_cursor_that_is_not_a_date_is_refused_naming_it(stream):
    with pytest.raises(StateError) as refused:
        check_state([stream_state(stream, {STREAMS[stream]["cursor"]: "not-a-date"})], MANIFEST)
    assert f"stream {stream}" in str(refused.value) and '"not-a-date"' in str(refused.value)


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_each_streams_future_position_warns_naming_it(stream):
    _, warned = check_state([stream_state(stream, own_state(stream, "2999-01-01T00:00:00+00:00"))], MANIFEST)
    assert any(f"stream {stream} is in the future" in w for w in warned)


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_each_streams_state_without_its_cursor_is_read_from_start_date(stream):
    messages, warned = check_state([stream_state(stream, {"foo": "bar"})], MANIFEST)
    assert messages == []
    assert any(f"stream {stream} has no" in w for w in warned)


def test_the_list_order_proof_in_the_messages_state_is_kept():
    state = own_state("messages", "2024-03-06T10:02:00+00:00")
    state["parent_state"]["conversation_list"] = {"newest_first_at": "2024-03-06 11:00:00.000000+0000"}
    messages, warned = check_state([stream_state("messages", state)], MANIFEST)
    assert warned == []
    assert json.loads(json.dumps(messages[0].stream.stream_state.__dict__, default=vars)) == state


@pytest.mark.parametrize("proof", [{"newest_first_at": "yesterday"}, {"newest_first_at": 3}, "true"])
def test_a_list_order_proof_that_cannot_be_read_is_dropped_with_a_warning(proof):
    # Dropping it only costs a complete read of the list; the positions are kept.
    state = own_state("messages", "2024-03-06T10:02:00+00:00")
    state["parent_state"]["conversation_list"] = proof
    messages, warned = check_state([stream_state("messages", state)], MANIFEST)
    kept = json.loads(json.dumps(messages[0].stream.stream_state.__dict__, default=vars))
    assert "conversation_list" not in kept["parent_state"] and kept["state"] == state["state"]
    assert any("conversation_list" in w and "whole conversation list" in w for w in warned)
