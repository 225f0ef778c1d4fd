"""A bad config prints the same sentence in both runtimes: the package CLI (`source-partoo`) and airbyte-cdk's
manifest-only runner (`source-declarative-manifest` with components.py), because the sentences come from the
manifest's spec (components.SetAsideInvalidConfig and ReportConfigProblem). No server is needed: nothing is
requested before the config is validated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import source_partoo.run
from source_partoo.components import CONFIG_SENTENCES

from .conftest import CLI, REPO, catalog

SDM = Path(sys.executable).with_name("source-declarative-manifest")
KEY = "k3y-THAT-must-never-leak"
HTTP_REMOTE = ("base_url must use https:// for example.com: plain http:// is only allowed for localhost, "
               "127.0.0.1 or [::1].")


def run(runtime: str, tmp_path: Path, command: str, config: Dict[str, Any]) -> subprocess.CompletedProcess:
    (tmp_path / "config.json").write_text(json.dumps(config))
    args = [command, "--config", str(tmp_path / "config.json")]
    if command == "read":
        (tmp_path / "catalog.json").write_text(json.dumps(catalog("conversations")))
        args += ["--catalog", str(tmp_path / "catalog.json")]
    if runtime == "source-partoo":
        return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    # As test_manifest_only_runner runs it: a clean interpreter that cannot import the packaged connector.
    env = dict(os.environ, AIRBYTE_ENABLE_UNSAFE_CODE="true", PYTHONPATH="", PYTHONNOUSERSITE="1")
    args += ["--manifest-path", str(REPO / "source_partoo" / "manifest.yaml"),
             "--components-path", str(REPO / "source_partoo" / "components.py")]
    return subprocess.run([str(SDM), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)


def messages(completed: subprocess.CompletedProcess) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


def errors(completed: subprocess.CompletedProcess) -> List[Dict[str, Any]]:
    return [m["trace"]["error"] for m in messages(completed) if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]


def status(completed: subprocess.CompletedProcess) -> Optional[Dict[str, Any]]:
    found = [m["connectionStatus"] for m in messages(completed) if m["type"] == "CONNECTION_STATUS"]
    return found[-1] if found else None


RUNTIMES = ["source-partoo", "source-declarative-manifest"]

# run.py's own pre-check (config_problem) answers a bad config before airbyte-cdk's check runs, with a trace
# instead of a connection status; the package's check is airbyte-cdk's once that pre-check is removed (#22).
# Delete this mark with it.
PRE_CHECK = pytest.mark.xfail(hasattr(source_partoo.run, "config_problem"),
                              reason="run.py's config_problem pre-check still answers check", strict=True)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("command, config, sentence", [
    ("read", {"api_key": KEY, "start_date": "31/01/2024"}, CONFIG_SENTENCES["start_date"]),
    ("read", {"api_key": KEY, "base_url": "http://example.com/v2"}, HTTP_REMOTE),
    ("discover", {"environment": "production"}, CONFIG_SENTENCES["api_key"]),
], ids=["read start_date", "read base_url", "discover no api_key"])
def test_read_and_discover_end_in_the_sentence_as_a_config_error(tmp_path, runtime, command, config, sentence):
    completed = run(runtime, tmp_path, command, config)
    assert completed.returncode == 1
    assert [(e["failure_type"], e["message"]) for e in errors(completed)] == [("config_error", sentence)]
    assert not [m for m in messages(completed) if m["type"] in ("RECORD", "CATALOG")]
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("runtime", [pytest.param("source-partoo", marks=PRE_CHECK), "source-declarative-manifest"])
def test_check_fails_with_the_sentence_in_its_status(tmp_path, runtime):
    completed = run(runtime, tmp_path, "check", {"api_key": KEY, "start_date": "31/01/2024"})
    assert completed.returncode == 0
    # airbyte-cdk's CheckStream: "Encountered an error while discovering streams. Error: <sentence>", which
    # ConcurrentDeclarativeSource.check quotes with repr() (a source may unquote it).
    assert status(completed)["status"] == "FAILED"
    assert status(completed)["message"].strip("'\"") == (
        f"Encountered an error while discovering streams. Error: {CONFIG_SENTENCES['start_date']}")
    assert errors(completed) == []


# check's connection status is the one output airbyte-cdk does not mask. run.py's pre-check quoted the host,
# lower-cased, so the mask missed it.
@pytest.mark.parametrize("runtime", [pytest.param("source-partoo", marks=PRE_CHECK), "source-declarative-manifest"])
def test_a_key_pasted_in_the_wrong_field_is_never_printed(tmp_path, runtime):
    completed = run(runtime, tmp_path, "check", {"api_key": KEY, "base_url": f"http://{KEY}/v2"})
    assert "base_url must use https://: plain http://" in completed.stdout
    assert KEY.lower() not in (completed.stdout + completed.stderr).lower()
