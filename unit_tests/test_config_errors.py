"""Bad config: a config_error with one sentence saying what to fix, no traceback, before any request.

The sentences come from the manifest's spec (config_normalization_rules: components.SetAsideInvalidConfig
and components.ReportConfigProblem), so every runtime prints them; these tests run those pieces and the
package's source through airbyte-cdk's entrypoint in process. integration_tests/test_config_errors_runtimes.py
runs both CLIs."""

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

import jsonschema
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.exception_handler import assemble_uncaught_exception
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.declarative.models.declarative_component_schema import Spec as SpecModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

from source_partoo import components
from source_partoo.source import SourcePartoo

from .conftest import API_KEY, catalog, make_config

BAD_CONFIGS = {
    "missing api_key": ({"environment": "production"}, "Set api_key"),
    "empty api_key": (make_config(api_key=""), "Set api_key"),
    "blank api_key": (make_config(api_key="  "), "Set api_key"),
    "api_key not a string": (make_config(api_key=12345), "Set api_key"),
    "unknown environment": (make_config(environment="staging"), "Set environment to production or sandbox"),
    "base_url not a URL": (make_config(base_url="api.partoo.co"), "Set base_url to a URL"),
    "base_url ftp": (make_config(base_url="ftp://api.partoo.co/v2"), "Set base_url to a URL"),
    "base_url upper-case scheme": (make_config(base_url="HTTPS://api.partoo.co/v2"), "Set base_url to a URL"),
    "base_url plain http to a remote host": (make_config(base_url="http://proxy.example.com/v2"),
                                             "base_url must use https:// for proxy.example.com:"),
    "base_url plain http to a private address": (make_config(base_url="http://10.0.0.5/v2"),
                                                 "base_url must use https:// for 10.0.0.5:"),
    "base_url plain http to another loopback address": (make_config(base_url="http://127.0.0.2/v2"),
                                                        "base_url must use https://"),
    "business_ids a string": (make_config(business_ids="b1,b2"), "Set business_ids to a list"),
    "business_ids of numbers": (make_config(business_ids=[1, 2]), "Set business_ids to a list"),
    "business_ids with a blank id": (make_config(business_ids=["b1", " "]), "Set business_ids to a list"),
    "start_date malformed": (make_config(start_date="31/01/2024"), "Set start_date to a date"),
    "start_date impossible": (make_config(start_date="2024-13-45"), "Set start_date to a date"),
    "start_date hour only": (make_config(start_date="2024-01-31T10"), "Set start_date to a date"),
    "start_date a number": (make_config(start_date=20240131), "Set start_date to a date"),
    "requests_per_minute zero": (make_config(requests_per_minute=0), "Set requests_per_minute"),
    "requests_per_minute text": (make_config(requests_per_minute="300"), "Set requests_per_minute"),
    "requests_per_minute fractional": (make_config(requests_per_minute=150.0), "Set requests_per_minute"),
    "num_workers too many": (make_config(num_workers=64), "Set num_workers to a whole number from 2 to 16"),
    "num_workers zero": (make_config(num_workers=0), "Set num_workers to a whole number from 2 to 16"),
    "num_workers boolean": (make_config(num_workers=True), "Set num_workers to a whole number from 2 to 16"),
    "num_workers one as a fraction": (make_config(num_workers=1.0), "Set num_workers to a whole number from 2 to 16"),
    "full_list_every_hours negative": (make_config(full_list_every_hours=-1), "Set full_list_every_hours to a whole number"),
    "full_list_every_hours text": (make_config(full_list_every_hours="24"), "Set full_list_every_hours"),
}

GOOD_CONFIGS = [
    make_config(),
    make_config(base_url="https://proxy.example.com/v2"),
    make_config(base_url="http://localhost:8080/v2"),
    make_config(base_url="http://127.0.0.1:9000/v2"),
    make_config(base_url="http://[::1]:9000/v2"),
    make_config(base_url="", environment="sandbox", business_ids=[]),
    make_config(start_date="2024-01-31"),
    make_config(start_date="2024-01-31T00:00:00Z"),
    make_config(start_date="2024-01-31T10:00:00+02:00"),
    make_config(start_date="2024-01-31 10:00:00.123456+00:00"),
    make_config(start_date=""),
    make_config(requests_per_minute=1, num_workers=16, full_list_every_hours=0, business_ids=["b1"]),
    make_config(num_workers=2),
]


@pytest.fixture(scope="module")
def manifest() -> Mapping[str, Any]:
    return SourcePartoo(config=make_config()).resolved_manifest


@pytest.fixture(scope="module")
def spec(manifest: Mapping[str, Any]) -> Any:
    """The manifest's spec component, as airbyte-cdk builds it for every runtime."""
    return ModelToComponentFactory().create_component(SpecModel, manifest["spec"], {})


def normalized(spec: Any, config: Mapping[str, Any]) -> Dict[str, Any]:
    """The config as the source holds it: the spec's transformations applied."""
    transformed = dict(config)
    spec.transform_config(transformed)
    return transformed


def is_one_sentence(message: str) -> bool:
    return message.count(". ") == 0 and message.endswith(".")


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_each_bad_value_is_one_config_error_sentence_and_never_reaches_jsonschema(spec, manifest, name):
    config, expected = BAD_CONFIGS[name]
    transformed = normalized(spec, config)  # the transformations do not crash on the value...
    # ...the entrypoint's JSON-schema check of the config (airbyte-cdk validates the transformed config)
    # passes, so jsonschema's own words never reach the user...
    jsonschema.validate(transformed, manifest["spec"]["connection_specification"])
    # ...and the spec's validation, which airbyte-cdk runs before building any stream, says what to fix.
    with pytest.raises(components.ConfigProblem) as raised:
        spec.validate_config(transformed)
    assert raised.value.failure_type.value == "config_error"
    assert raised.value.message.startswith(expected), raised.value.message
    assert is_one_sentence(raised.value.message)


@pytest.mark.parametrize("config", GOOD_CONFIGS, ids=lambda c: json.dumps({k: v for k, v in c.items() if k != "api_key"}))
def test_good_configs_are_kept_whole(spec, config):
    transformed = normalized(spec, config)
    assert {k: transformed[k] for k in config} == config
    assert transformed[components.PROBLEM_KEY] is None
    spec.validate_config(transformed)


def test_null_means_not_set(spec, manifest):
    transformed = normalized(spec, make_config(base_url=None, start_date=None, num_workers=None, business_ids=None))
    assert transformed[components.PROBLEM_KEY] is None
    assert not {"base_url", "start_date", "num_workers", "business_ids"} & set(transformed)
    jsonschema.validate(transformed, manifest["spec"]["connection_specification"])


def test_the_first_problem_in_the_fields_order_is_reported_and_every_bad_value_set_aside(spec, manifest):
    config = make_config(num_workers=64, start_date="31/01/2024", environment="staging", requests_per_minute=10)
    transformed = normalized(spec, config)
    assert transformed[components.PROBLEM_KEY].startswith("Set environment")
    assert "num_workers" not in transformed and "start_date" not in transformed and "environment" not in transformed
    assert transformed["requests_per_minute"] == 10
    jsonschema.validate(transformed, manifest["spec"]["connection_specification"])


# The key pasted into the wrong field: the sentence saying what to fix must not quote the value (check's
# connection status is not masked by airbyte-cdk).
@pytest.mark.parametrize("field", ["environment", "base_url", "business_ids", "start_date", "requests_per_minute",
                                   "num_workers", "full_list_every_hours"])
@pytest.mark.parametrize("value", [API_KEY, f"http://{API_KEY}/v2", [API_KEY, ""]])
def test_the_sentence_never_quotes_the_api_key(spec, field, value):
    sentence = normalized(spec, make_config(**{field: value}))[components.PROBLEM_KEY]
    if sentence is None:  # an id list with the key in it is a list of ids, an http URL is a base_url only
        assert field != "base_url"
        return
    assert field in sentence
    assert API_KEY.lower() not in sentence.lower()


# -- Through airbyte-cdk's entrypoint, as the CLIs run it (without run.py's own pre-check) -----------------

def run_entrypoint(tmp_path: Any, command: str, config: Mapping[str, Any],
                   streams: Tuple[str, ...] = ("conversations",)) -> Tuple[List[Dict[str, Any]], Optional[BaseException]]:
    """`command` through AirbyteEntrypoint.run on the package's source; an exception that escapes becomes the
    trace airbyte-cdk's excepthook prints (masked as it masks it)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    args = [command, "--config", str(path)]
    configured = None
    if command == "read":
        configured = catalog(*streams, mode=SyncMode.full_refresh)
        (tmp_path / "catalog.json").write_text(json.dumps({"streams": [
            {"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for s in streams]}))
        args += ["--catalog", str(tmp_path / "catalog.json")]
    source = SourcePartoo(catalog=configured, config=config, config_path=str(path))
    lines, raised = [], None
    try:
        lines.extend(AirbyteEntrypoint(source).run(AirbyteEntrypoint.parse_args(args)))
    except Exception as error:  # noqa: BLE001 - what the CLI's excepthook does
        raised = error
        trace = assemble_uncaught_exception(type(error), error).as_airbyte_message()
        lines.append(filter_secrets(AirbyteEntrypoint.airbyte_message_to_string(trace)))
    return [json.loads(line) for line in lines], raised


E2E = ["start_date malformed", "base_url plain http to a remote host", "missing api_key", "num_workers boolean"]


@pytest.mark.parametrize("name", E2E)
@pytest.mark.parametrize("command", ["discover", "read"])
def test_discover_and_read_end_in_the_sentence_as_a_config_error(tmp_path, requests_mock, command, name):
    config, expected = BAD_CONFIGS[name]
    messages, raised = run_entrypoint(tmp_path, command, config)
    assert isinstance(raised, components.ConfigProblem)  # the CLI exits 1 on it
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["failure_type"] == "config_error"
    assert errors[0]["message"].startswith(expected) and is_one_sentence(errors[0]["message"])
    assert not [m for m in messages if m["type"] in ("RECORD", "CATALOG")]
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("name", E2E)
def test_check_fails_with_the_sentence_in_its_status(tmp_path, requests_mock, name):
    config, expected = BAD_CONFIGS[name]
    messages, raised = run_entrypoint(tmp_path, "check", config)
    assert raised is None  # check reports, it does not crash
    status = [m["connectionStatus"] for m in messages if m["type"] == "CONNECTION_STATUS"]
    assert len(status) == 1 and status[0]["status"] == "FAILED"
    # airbyte-cdk's CheckStream says "Encountered an error while discovering streams. Error: <sentence>"
    # (quoted by repr() unless the source unquotes it): the sentence is in it, whole.
    message = status[0]["message"]
    assert expected in message and message[message.index(expected):].rstrip("'\"").endswith(".")
    assert requests_mock.call_count == 0


def test_a_key_pasted_in_a_field_is_not_printed(tmp_path, requests_mock):
    for command in ("check", "read"):
        messages, _ = run_entrypoint(tmp_path, command, make_config(base_url=f"http://{API_KEY}/v2"))
        printed = json.dumps(messages)
        assert "base_url must use https://:" in printed
        assert API_KEY.lower() not in printed.lower()


def test_an_unreadable_config_file_is_answered_as_source_declarative_manifest_answers_it(cli, tmp_path):
    """run.py reads its inputs as airbyte-cdk's manifest-only runner does, and fails the same way."""
    result = cli("check", None, "--config", str(tmp_path / "missing.json"))
    assert result.exit_code == 1
    assert result.errors[0]["message"].startswith("Error starting the sync. This could be due to an invalid "
                                                  "configuration or catalog.")
    assert "missing.json" in result.errors[0]["message"]


# -- num_workers 1, allowed up to 0.4.0, hung a sync past 10,000 conversations: it runs as 2 -------------------
# (the spec's first config transformation; not a config migration, which would print the whole config, API
# key included, in a CONNECTOR_CONFIG control message)

def control_configs(result: Any) -> List[Dict[str, Any]]:
    return [m["control"]["connectorConfig"]["config"] for m in result.of_type("CONTROL")
            if m["control"]["type"] == "CONNECTOR_CONFIG"]


def test_a_config_saved_with_one_worker_runs_as_two_and_prints_no_config(cli, tmp_path, requests_mock, spec):
    result = cli("discover", make_config(num_workers=1, start_date="2024-01-31"))
    assert result.exit_code == 0 and result.of_type("CATALOG")
    assert control_configs(result) == [] and API_KEY not in result.stdout
    assert json.loads((tmp_path / "config.json").read_text()) == make_config(num_workers=1, start_date="2024-01-31")
    assert requests_mock.call_count == 0
    # the config the streams are built from
    assert normalized(spec, make_config(num_workers=1))["num_workers"] == 2


@pytest.mark.parametrize("value", [2, 16, None], ids=lambda v: f"num_workers {v}")
def test_an_allowed_number_of_workers_is_kept(cli, tmp_path, spec, value):
    config = make_config() if value is None else make_config(num_workers=value)
    result = cli("discover", config)
    assert result.exit_code == 0 and control_configs(result) == []
    assert normalized(spec, config).get("num_workers") == value


# True == 1 in Python and in Jinja: only the whole number 1 runs as 2; the rest is a config error, as before.
@pytest.mark.parametrize("value", [True, 1.0, "1", 0], ids=lambda v: f"num_workers {v!r}")
def test_a_value_equal_to_one_that_is_not_the_number_one_is_reported(cli, tmp_path, requests_mock, value):
    result = cli("discover", make_config(num_workers=value))
    assert control_configs(result) == []
    assert json.loads((tmp_path / "config.json").read_text()) == make_config(num_workers=value)
    assert result.exit_code == 1  # the config_error that airbyte-cdk's excepthook prints (the tests above)
    assert isinstance(result.raised, components.ConfigProblem)
    assert result.raised.message == components.CONFIG_SENTENCES["num_workers"]
    assert requests_mock.call_count == 0
