"""The manifest runs unchanged under airbyte-cdk's generic `source-declarative-manifest` runner, the way
Airbyte's platform runs manifest-only connectors (with --components-path for components.py). Its `spec` is
the generic runner's own by design (the manifest arrives with the config), so check and read are what prove
the manifest runs there; the guarantees themselves are tested in both runtimes by the tests that use the
`connector` fixture (conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import REPO, catalog

SDM = Path(sys.executable).with_name("source-declarative-manifest")
MANIFEST = REPO / "source_partoo" / "manifest.yaml"
COMPONENTS = REPO / "source_partoo" / "components.py"


def run_sdm(tmp_path, command, config=None, catalog_=None):
    args = [str(SDM), command, "--manifest-path", str(MANIFEST), "--components-path", str(COMPONENTS)]
    for name, value in (("config", config), ("catalog", catalog_)):
        if value is not None:
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(value))
            args += [f"--{name}", str(path)]
    # A clean interpreter that cannot import the packaged connector: only the manifest and components.py.
    env = dict(os.environ, AIRBYTE_ENABLE_UNSAFE_CODE="true", PYTHONPATH="", PYTHONNOUSERSITE="1")
    completed = subprocess.run(args, capture_output=True, text=True, timeout=240, cwd=tmp_path, env=env)
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")], completed


def test_check_and_read_against_the_emulator(tmp_path, emulator):
    messages, _ = run_sdm(tmp_path, "check", emulator.config())
    assert [m for m in messages if m["type"] == "CONNECTION_STATUS"][0]["connectionStatus"]["status"] == "SUCCEEDED"
    messages, completed = run_sdm(tmp_path, "read", emulator.config(), catalog("conversations", "messages"))
    assert completed.returncode == 0, completed.stdout[-2000:]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert len({r["data"]["id"] for r in records if r["stream"] == "conversations"}) == 120
    assert len([r for r in records if r["stream"] == "messages"]) == len(emulator.expected("messages"))
