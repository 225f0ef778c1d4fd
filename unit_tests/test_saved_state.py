"""`read --state`: every state a released version wrote keeps working; an edited or copied state either has
a safe reading (used, with a warning) or stops the sync before any request with one sentence.

The manifest's CheckSavedState (each incremental stream's state_migrations) decides, in every runtime;
integration_tests/test_saved_state_runtimes.py runs the same cases through both CLIs against the emulator.
A state file airbyte-cdk cannot parse (the legacy format) never reaches a component: see that file."""

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, Dict, List

import pytest
from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    CustomStateMigration as CustomStateMigrationModel,
    DeclarativeStream as DeclarativeStreamModel,
)
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.test.state_builder import StateBuilder
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from airbyte_cdk.utils.yaml_loader import safe_load_yaml

from source_partoo.components import CheckSavedState, ConfigProblem as SavedStateError
from source_partoo.source import SourcePartoo

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
def read_with_state(cli, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="airbyte")

    def invoke(state: Any, *streams: str):
        streams = streams or ("conversations", "messages")
        cursor = {"conversations": "last_activity_at", "messages": "date"}
        catalog = {"streams": [{
            "stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental", "cursor_field": [cursor[s]], "destination_sync_mode": "append_dedup",
        } for s in streams]}
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        (tmp_path / "state.json").write_text(json.dumps(state))
        caplog.clear()
        result = cli("read", make_config(), "--catalog", str(tmp_path / "catalog.json"),
                     "--state", str(tmp_path / "state.json"))
        # In process, airbyte-cdk's "airbyte" logger may write to another capture than capsys: its records
        # are the LOG messages the real CLI prints (integration_tests/test_saved_state_runtimes.py).
        result.logged = [r.getMessage() for r in caplog.records
                         if r.name == "airbyte" and r.levelno == logging.WARNING and r.filename == "components.py"]
        return result
    return invoke


def records(result, stream: str) -> List[int]:
    return sorted(m["record"]["data"]["id"] for m in result.of_type("RECORD") if m["record"]["stream"] == stream)


def warnings(result) -> List[str]:
    return [m["log"]["message"] for m in result.of_type("LOG") if m["log"]["level"] == "WARN"] + result.logged


def assert_refused_before_any_request(result, partoo, *words: str) -> None:
    assert result.exit_code == 1
    # The trace airbyte-cdk's uncaught-exception hook prints; in process there is no hook, so the exception.
    errors = result.errors or ([{"failure_type": result.raised.failure_type.value, "message": result.raised.message}]
                               if isinstance(result.raised, AirbyteTracedException) else [])
    assert len(errors) == 1
    error = errors[0]
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


# --- Every incremental stream: the manifest's CheckSavedState (state_migrations) --------------------------
# airbyte-cdk applies each stream's state_migrations when it builds the streams, in every runtime; these
# tests build the component from the manifest with airbyte-cdk's factory, or build the streams themselves.

MANIFEST = ManifestReferenceResolver().preprocess_manifest(
    safe_load_yaml((Path(__file__).parents[1] / "source_partoo" / "manifest.yaml").read_text()))
INCREMENTAL = {s["name"]: s for s in MANIFEST["streams"] if s.get("incremental_sync")}
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)


def migration(stream: str) -> CheckSavedState:
    """The stream's state migration, built by airbyte-cdk's factory from the manifest, as a sync builds it."""
    entry = INCREMENTAL[stream]["state_migrations"][0]
    typed = ManifestComponentTransformer().propagate_types_and_parameters("", INCREMENTAL[stream], {})
    model = DeclarativeStreamModel.parse_obj(typed)
    return ModelToComponentFactory().create_component(CustomStateMigrationModel, entry, make_config(), declarative_stream=model)


def check(stream: str, state: Dict[str, Any]):
    warned: List[str] = []
    return migration(stream).check(state, NOW, warned), warned


def written(stream: str, moment: str) -> str:
    """`moment` (ISO) as the stream's cursor writes it in its state."""
    return DatetimeParser().format(dt.datetime.fromisoformat(moment), INCREMENTAL[stream]["incremental_sync"]["datetime_format"])


def own_state(stream: str, moment: str) -> Dict[str, Any]:
    cursor = INCREMENTAL[stream]["incremental_sync"]["cursor_field"]
    if stream != "messages":
        return {cursor: written(stream, moment)}
    return {"use_global_cursor": True, "state": {cursor: written(stream, moment)}, "lookback_window": 5,
            "parent_state": {"conversations": {"last_activity_at": written("conversations", moment)}}}


def test_every_incremental_stream_checks_its_state_with_the_facts_of_its_own_cursor():
    # CheckSavedState reads the cursor's field and formats from the stream's model: nothing is repeated.
    assert set(INCREMENTAL) == {"conversations", "messages", "businesses", "reviews", "review_replies",
                                "review_metrics_daily", "presence_metrics_daily", "presence_keywords_monthly"}
    for name, stream in INCREMENTAL.items():
        # messages: then ListOrderProof, which reads the list's order proof from the state CheckSavedState checked
        assert [m["class_name"].rsplit(".", 1)[-1] for m in stream["state_migrations"]] == (
            ["CheckSavedState", "ListOrderProof"] if name == "messages" else ["CheckSavedState"]), name
        assert set(stream["state_migrations"][0]) <= {"type", "class_name", "$parameters"}, name
    # The list's position is checked once, as part of the messages state (named messages).
    parent = INCREMENTAL["messages"]["retriever"]["partition_router"]["conversations"]["parent_stream_configs"][0]
    assert parent["stream"]["state_migrations"] == []


@pytest.mark.parametrize("stream", sorted(INCREMENTAL))
def test_each_streams_own_state_is_used_as_it_is(stream):
    state = own_state(stream, "2024-03-06T10:02:00+00:00")
    assert check(stream, state) == (state, [])


@pytest.mark.parametrize("stream", sorted(INCREMENTAL))
def test_each_streams_cursor_that_is_not_a_date_is_refused_naming_it(stream):
    with pytest.raises(SavedStateError) as refused:
        check(stream, {INCREMENTAL[stream]["incremental_sync"]["cursor_field"]: "not-a-date"})
    assert refused.value.failure_type.value == "config_error"
    assert f"stream {stream}" in refused.value.message and '"not-a-date"' in refused.value.message
    assert "reset the" in refused.value.message


@pytest.mark.parametrize("stream", sorted(INCREMENTAL))
def test_each_streams_future_position_warns_naming_it(stream):
    _, warned = check(stream, own_state(stream, "2999-01-01T00:00:00+00:00"))
    assert any(f"stream {stream} is in the future" in w for w in warned)


@pytest.mark.parametrize("stream", sorted(INCREMENTAL))
def test_each_streams_state_without_its_cursor_is_read_from_start_date(stream):
    state, warned = check(stream, {"foo": "bar"})
    assert state == {}
    assert any(f"stream {stream} has no" in w and "foo" in w for w in warned)


def test_no_state_is_not_checked():
    assert not migration("conversations").should_migrate({})
    assert migration("conversations").should_migrate({"foo": "bar"})


def test_unknown_keys_next_to_the_cursor_are_dropped_with_a_warning():
    state, warned = check("conversations", {"last_activity_at": NEWEST, "zzz": 1})
    assert state == {"last_activity_at": NEWEST}
    assert warned == ["The saved state of stream conversations has keys this connector does not use (zzz): they are ignored."]


def test_the_state_of_a_sync_interrupted_before_its_first_message_cursor_is_used_as_it_is():
    # What airbyte-cdk saves when a sync stops early: the position in the list, no message cursor yet
    # (test_messages_and_incremental.py resumes from it).
    state = {"use_global_cursor": True, "lookback_window": 1, "parent_state": {"conversations": {"last_activity_at": NEWEST}}}
    assert check("messages", state) == (state, [])


def test_the_list_order_proof_in_the_messages_state_is_kept():
    state = own_state("messages", "2024-03-06T10:02:00+00:00")
    state["parent_state"]["conversation_list"] = {"newest_first_at": "2024-03-06 11:00:00.000000+0000"}
    assert check("messages", state) == (state, [])


@pytest.mark.parametrize("proof", [{"newest_first_at": "yesterday"}, {"newest_first_at": 3}, "true"])
def test_a_list_order_proof_that_cannot_be_read_is_dropped_with_a_warning(proof):
    # Dropping it only costs a complete read of the list; the positions are kept.
    state = own_state("messages", "2024-03-06T10:02:00+00:00")
    state["parent_state"]["conversation_list"] = proof
    kept, warned = check("messages", state)
    assert "conversation_list" not in kept["parent_state"] and kept["state"] == state["state"]
    assert any("conversation_list" in w and "whole conversation list" in w for w in warned)


@pytest.mark.parametrize("broken, expected, warning", [
    ({"lookback_window": "1s"}, {"lookback_window": 0}, "lookback_window that is not a number of seconds"),
    ({"parent_state": {"other": {}}}, {"parent_state": None}, "no position in conversations (last_activity_at)"),
    ({"state": {"when": NEWEST}}, {"state": None, "parent_state": None}, "has no date: messages is read from start_date"),
])
def test_a_messages_state_with_a_part_missing_keeps_the_rest_with_a_warning(broken, expected, warning):
    state, warned = check("messages", dict(RELEASED_MESSAGES, **broken))
    for key, value in expected.items():
        assert state.get(key) == value, key
    assert any(warning in w for w in warned)


def test_per_conversation_states_that_are_not_a_list_are_refused():
    with pytest.raises(SavedStateError, match="stream messages has per-conversation states that are not a list"):
        check("messages", dict(RELEASED_MESSAGES, states="x"))


# --- The same, as airbyte-cdk applies it when it builds the streams (no run.py involved) ---------------------

def built_cursors(*states: Any) -> Dict[str, Any]:
    builder = StateBuilder()
    for name, state in states:
        builder = builder.with_stream_state(name, state)
    source = SourcePartoo(config=make_config(), state=builder.build())
    return {stream.name: stream.cursor.state for stream in source.streams(make_config())}


def test_the_streams_start_from_the_checked_state_and_each_warning_is_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger="airbyte")
    future = "2999-01-01 00:00:00.000000+0000"
    cursors = built_cursors(
        ("conversations", {"last_activity_at": "2024-03-05"}),
        ("messages", dict(RELEASED_MESSAGES, parent_state={"conversations": {"last_activity_at": future}})),
    )
    assert cursors["conversations"] == {"last_activity_at": "2024-03-05 00:00:00.000000+0000"}
    assert cursors["messages"]["parent_state"] == {"conversations": {"last_activity_at": future}}
    logged = [r.getMessage() for r in caplog.records if r.name == "airbyte" and r.levelno == logging.WARNING]
    assert logged == [
        "The saved state of stream conversations has last_activity_at = \"2024-03-05\": read as 2024-03-05 00:00:00.000000+0000.",
        f"The saved state of stream messages is in the future (parent_state.conversations.last_activity_at = {future}): "
        "nothing newer exists yet, so this sync loads nothing new for messages, and neither will any sync before that "
        "date. Reset messages in Airbyte (or set the value to a past date) if that is not what you want.",
    ]


def test_a_state_that_cannot_be_used_stops_the_build_of_the_streams_with_a_config_error():
    with pytest.raises(AirbyteTracedException) as refused:
        built_cursors(("messages", dict(RELEASED_MESSAGES, state={"date": "yesterday"})))
    assert refused.value.failure_type.value == "config_error"
    assert refused.value.message.startswith('The saved state of stream messages has date = "yesterday", which is not a date')
