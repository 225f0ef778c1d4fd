"""A bad config prints the same sentence in both runtimes: the package CLI (`source-partoo`) and airbyte-cdk's
manifest-only runner (`source-declarative-manifest` with components.py), because the sentences come from the
manifest's spec (components.SetAsideInvalidConfig and ReportConfigProblem). No server is needed: nothing is
requested before the config is validated."""

from __future__ import annotations

import pytest

from source_partoo.components import CONFIG_SENTENCES

from .conftest import catalog

KEY = "k3y-THAT-must-never-leak"
HTTP_REMOTE = ("base_url must use https:// for example.com: plain http:// is only allowed for localhost, "
               "127.0.0.1 or [::1].")


@pytest.mark.parametrize("command, config, sentence", [
    ("read", {"api_key": KEY, "start_date": "31/01/2024"}, CONFIG_SENTENCES["start_date"]),
    ("read", {"api_key": KEY, "base_url": "http://example.com/v2"}, HTTP_REMOTE),
    ("discover", {"environment": "production"}, CONFIG_SENTENCES["api_key"]),
], ids=["read start_date", "read base_url", "discover no api_key"])
def test_read_and_discover_end_in_the_sentence_as_a_config_error(connector, command, config, sentence):
    completed = connector(command, config, catalog=catalog("conversations") if command == "read" else None)
    assert completed.returncode == 1
    assert [(e["failure_type"], e["message"]) for e in completed.errors] == [("config_error", sentence)]
    assert not [m for m in completed.messages if m["type"] in ("RECORD", "CATALOG")]
    assert "Traceback" not in completed.stderr


def test_check_fails_with_the_sentence_in_its_status(connector):
    completed = connector("check", {"api_key": KEY, "start_date": "31/01/2024"})
    assert completed.returncode == 0
    # airbyte-cdk's CheckStream: "Encountered an error while discovering streams. Error: <sentence>", which
    # ConcurrentDeclarativeSource.check quotes with repr() (a source may unquote it).
    [status] = [m["connectionStatus"] for m in completed.of_type("CONNECTION_STATUS")]
    assert status["status"] == "FAILED"
    assert status["message"].strip("'\"") == (
        f"Encountered an error while discovering streams. Error: {CONFIG_SENTENCES['start_date']}")
    assert completed.errors == []


# check's connection status is the one output airbyte-cdk does not mask. run.py's old pre-check quoted the
# host, lower-cased, so the mask missed it.
def test_a_key_pasted_in_the_wrong_field_is_never_printed(connector):
    completed = connector("check", {"api_key": KEY, "base_url": f"http://{KEY}/v2"})
    assert "base_url must use https://: plain http://" in completed.stdout
    assert KEY.lower() not in (completed.stdout + completed.stderr).lower()
