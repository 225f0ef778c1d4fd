"""A saved state is checked before any request the same way in every runtime: the manifest's
CheckSavedState (each incremental stream's state_migrations, components.py) runs under the package CLI
(`source-partoo`) and under airbyte-cdk's generic runner (`source-declarative-manifest` with
components.py, as Airbyte runs a manifest-only connector), against the emulator.

unit_tests/test_saved_state.py has the cases one by one; these prove the wiring in both processes: a
cursor that is not a date ends as one config_error sentence, exit 1, no request; a readable state in
another form, with keys the connector does not write, or in the future, warns (Airbyte LOG messages)
and syncs. The last test records what airbyte-cdk does with the legacy format before
any component of the manifest runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from .conftest import CLI, REPO, CliRun, Emulator, catalog

SDM = Path(sys.executable).with_name("source-declarative-manifest")
RUNTIMES = ["source-partoo", "source-declarative-manifest"]
FUTURE = "2999-01-01 00:00:00.000000+0000"


@pytest.fixture(scope="module")
def few() -> Iterator[Emulator]:
    """Eight conversations: each case is one quick sync."""
    running = Emulator("--conversations", "8", "--businesses", "1")
    yield running
    running.stop()


def read(runtime: str, tmp_path: Path, emulator: Emulator, state: Any, *streams: str) -> CliRun:
    """`read --state` through one runtime, the emulator's request counts reset first."""
    emulator.control("reset_stats", {})
    files = {"config": emulator.config(), "catalog": catalog(*streams, mode="incremental"), "state": state}
    args = [str(CLI if runtime == "source-partoo" else SDM), "read"]
    for name, value in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(value))
        args += [f"--{name}", str(tmp_path / f"{name}.json")]
    env = None
    if runtime == "source-declarative-manifest":
        args += ["--manifest-path", str(REPO / "source_partoo" / "manifest.yaml"),
                 "--components-path", str(REPO / "source_partoo" / "components.py")]
        # A clean interpreter that cannot import the packaged connector: only the manifest and components.py.
        env = dict(os.environ, AIRBYTE_ENABLE_UNSAFE_CODE="true", PYTHONPATH="", PYTHONNOUSERSITE="1")
    return CliRun(subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env))


def stream_state(name: str, state: Any) -> Dict[str, Any]:
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": state}}


def warnings(run: CliRun) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


def requests_made(emulator: Emulator) -> int:
    return emulator.control("stats").get("requests", 0)  # (no key before the first request)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_cursor_that_is_not_a_date_stops_before_any_request_with_one_sentence(runtime, tmp_path, few):
    state = [stream_state("messages", {
        "use_global_cursor": True, "state": {"date": "2024-03-06 10:02:00.000000+0000"}, "lookback_window": 1,
        "parent_state": {"conversations": {"last_activity_at": "13/01/2024"}},
    })]
    run = read(runtime, tmp_path, few, state, "conversations", "messages")
    assert run.returncode == 1
    assert [e["failure_type"] for e in run.errors] == ["config_error"], run.stdout[-2000:]
    field = "parent_state.conversations.last_activity_at"
    assert re.fullmatch(
        f'The saved state of stream messages has {field} = "13/01/2024", which is not a date: reset the messages '
        f"stream in Airbyte \\(its next sync then reads everything since start_date\\), or set {field} to a date "
        r"written like \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+0000\.",
        run.errors[0]["message"],
    )
    assert requests_made(few) == 0 and not run.records("conversations")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_state_in_another_form_with_other_keys_or_in_the_future_warns_and_syncs(runtime, tmp_path, few):
    state = [stream_state("conversations", {"last_activity_at": "2020-01-01", "zzz": 1}),
             stream_state("messages", {"date": FUTURE})]
    run = read(runtime, tmp_path, few, state, "conversations", "messages")
    assert run.returncode == 0 and not run.errors, run.stdout[-2000:]
    assert len({r["id"] for r in run.records("conversations")}) == 8
    assert run.records("messages") == []  # nothing is newer than the future
    said = warnings(run)
    for expected in [
        'The saved state of stream conversations has last_activity_at = "2020-01-01": read as 2020-01-01 00:00:00.000000+0000.',
        "The saved state of stream conversations has keys this connector does not use (zzz): they are ignored.",
        f"The saved state of stream messages is in the future (date = {FUTURE}): nothing newer exists yet, so this "
        "sync loads nothing new for messages, and neither will any sync before that date. Reset messages in Airbyte "
        "(or set the value to a past date) if that is not what you want.",
    ]:
        assert expected in said, said
    # The next sync gets the state in the cursor's own format.
    saved = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in run.last_states()}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+0000", saved["conversations"]["last_activity_at"])


LEGACY_FILE = {"conversations": {"last_activity_at": "2024-03-05 00:00:00.000000+0000"}}
LEGACY_MESSAGES = [{"type": "LEGACY", "data": LEGACY_FILE}]


@pytest.mark.parametrize("state", [LEGACY_FILE, LEGACY_MESSAGES], ids=["legacy-file", "LEGACY-messages"])
def test_what_airbyte_cdk_does_with_the_legacy_format_before_any_component_runs(tmp_path, few, state):
    """Only the manifest-only runtime: what the manifest alone can do (docs: saved states). airbyte-cdk
    parses the state file into per-stream state messages before it loads components.py; the legacy
    object fails that parse, and LEGACY messages parse but never reach a stream (ConnectorStateManager
    keeps STREAM messages only). No state migration can tell a LEGACY message from no state at all."""
    run = read("source-declarative-manifest", tmp_path, few, state, "conversations")
    if state is LEGACY_FILE:
        assert run.returncode == 1 and requests_made(few) == 0
        assert [e["message"][:23] for e in run.errors] == ["Error starting the sync"]
    else:
        assert run.returncode == 0 and not warnings(run)
        assert len(run.records("conversations")) == 8  # read from start_date, as without a state
