"""The main job (`make sync CONFIG=...`: python -m warehouse.sync) fails like a tool people trust: one
sentence saying what to fix, printed once, exit status 1, no traceback, never the API key. A config that
cannot work stops at the connector's check, before PyAirbyte is imported; a failure during the read
prints the connector's own message once and the log file's path."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from .conftest import REPO


class JobRun:
    def __init__(self, completed: subprocess.CompletedProcess) -> None:
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.output = completed.stdout + completed.stderr


def make_sync(tmp_path: Path, config: Dict[str, Any]) -> JobRun:
    """What `make sync CONFIG=... DB=...` runs."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    completed = subprocess.run(
        [sys.executable, "-m", "warehouse.sync", "--config", str(path), "--db", str(tmp_path / "w.duckdb")],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    return JobRun(completed)


def assert_fails_with_one_sentence(run: JobRun, sentence: str, secret: str) -> str:
    assert run.returncode == 1
    assert run.output.count(sentence) == 1, run.output[-3000:]
    assert "Traceback" not in run.output and "Warning" not in run.output
    assert secret not in run.output
    return run.output


def test_a_rejected_key_stops_at_the_check(tmp_path, emulator):
    key = "wrong-key-Sx9-must-not-leak"  # the emulator echoes it back in its 401 body
    run = make_sync(tmp_path, emulator.config(api_key=key))
    output = assert_fails_with_one_sentence(run, "Partoo rejected the API key (HTTP 401)", key)
    assert output.strip() == (
        f"Partoo rejected the API key (HTTP 401): check that it is current and that it belongs to the server at "
        f"{emulator.url} (production keys do not work on the sandbox, nor sandbox keys on production).")
    assert not (tmp_path / "w.duckdb").exists()


def test_a_forbidden_business_stops_at_the_check(tmp_path, emulator):
    businesses = sorted({c["business"]["id"] for c in emulator.expected("conversations")})
    allowed = {c["business"]["id"] for c in emulator.expected("conversations") if c["business"]["name"].endswith(" 0")}
    forbidden = next(b for b in businesses if b not in allowed)
    run = make_sync(tmp_path, emulator.config(api_key="limited-key", business_ids=[forbidden]))
    output = assert_fails_with_one_sentence(run, f"Partoo refused access to businesses {forbidden} (HTTP 403)", "limited-key")
    assert "remove them from business_ids" in output
    assert len(output.strip().splitlines()) == 1


def test_a_refused_connection_stops_at_the_check_naming_the_server(tmp_path):
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = "key-Qq7-must-not-leak"
    run = make_sync(tmp_path, {"api_key": key, "base_url": f"http://127.0.0.1:{port}/v2"})
    output = assert_fails_with_one_sentence(
        run, f"Could not connect to the Partoo server http://127.0.0.1:{port} (connection refused; tried once)", key)
    assert "check base_url and environment" in output and "proxy" in output
    assert "Exhausted available request attempts" not in output


def test_a_failure_during_the_read_prints_the_connectors_message_once_and_the_log(tmp_path, emulator_factory):
    # the check reads one page; the read then meets a cursor the API had already returned
    looping = emulator_factory("--conversations", "40", "--businesses", "2", "--loop-cursor")
    run = make_sync(tmp_path, looping.config())
    assert run.returncode == 1
    output = run.output
    assert "Traceback" not in output and "Warning" not in output and looping.config()["api_key"] not in output
    # one line per failed partition (each names its conversation), each printed once
    failures = [line for line in run.stderr.splitlines() if "Partoo returned a pagination cursor" in line]
    assert failures and len(set(failures)) == len(failures) == output.count("Partoo returned a pagination cursor")
    assert all(line.startswith("Partoo returned a pagination cursor it had already returned (GET /v2/")
               for line in failures)
    log = re.search(r"The connector's log: (\S+)", run.stderr)
    assert log and Path(log.group(1)).is_file()
    assert "During the sync, the following streams did not sync successfully" not in output
    assert "Response (headers)" not in output  # airbyte-cdk's dump of the HTTP exchange stays in the log
