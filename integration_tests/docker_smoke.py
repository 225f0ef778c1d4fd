"""`make docker-test`: build the connector image and run spec, check, discover and read in it against the
local emulator (host network), as `docker run` users and the Airbyte platform do.

Docker Hub is unreachable here, so the image builds on a local stand-in of Airbyte's base image
(../shared/tools/docker-standin.sh); set BASE_IMAGE to build on another base. Needs a Docker daemon.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from integration_tests.conftest import REPO, Emulator, catalog

IMAGE = os.environ.get("IMAGE", "airbyte/source-partoo:dev")
STANDIN = "local/python-connector-base:standin"
STANDIN_SCRIPT = REPO.parent / "shared" / "tools" / "docker-standin.sh"


def sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=True, text=True, **kwargs)


def base_image() -> str:
    if os.environ.get("BASE_IMAGE"):
        return os.environ["BASE_IMAGE"]
    present = subprocess.run(["docker", "image", "inspect", STANDIN], capture_output=True).returncode == 0
    if not present:
        if not STANDIN_SCRIPT.exists():
            sys.exit(f"no {STANDIN} image and no {STANDIN_SCRIPT}: set BASE_IMAGE to a python-connector-base image")
        sh("bash", str(STANDIN_SCRIPT))
    return STANDIN


def docker_run(secrets: Path, *command: str) -> list:
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "host", "-v", f"{secrets}:/secrets:ro", IMAGE, *command],
        capture_output=True, text=True, timeout=600,
    )
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed in the image:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return messages


def main() -> int:
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        sys.exit("no Docker daemon answers `docker info` (../shared/tools/docker-standin.sh starts one)")
    sh("docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base_image()}", "-t", IMAGE, str(REPO))
    user = sh("docker", "run", "--rm", "--entrypoint", "id", IMAGE, "-un", capture_output=True).stdout.strip()
    assert user == "airbyte", f"the image runs as {user}, not airbyte"

    emulator = Emulator("--conversations", "50", "--businesses", "3")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            secrets = Path(tmp)
            (secrets / "config.json").write_text(json.dumps(emulator.config()))
            (secrets / "catalog.json").write_text(json.dumps(catalog("conversations", "messages")))
            secrets.chmod(0o755)
            for f in secrets.iterdir():
                f.chmod(0o644)

            spec = [m for m in docker_run(secrets, "spec") if m["type"] == "SPEC"][0]
            assert "api_key" in spec["spec"]["connectionSpecification"]["properties"]
            print("spec: ok")
            status = [m for m in docker_run(secrets, "check", "--config", "/secrets/config.json")
                      if m["type"] == "CONNECTION_STATUS"][0]["connectionStatus"]
            assert status["status"] == "SUCCEEDED", status
            print("check: SUCCEEDED")
            streams = [m for m in docker_run(secrets, "discover", "--config", "/secrets/config.json")
                       if m["type"] == "CATALOG"][0]["catalog"]["streams"]
            assert {"conversations", "messages"} <= {s["name"] for s in streams}  # and the #14 streams
            print("discover: conversations, messages")
            messages = docker_run(secrets, "read", "--config", "/secrets/config.json", "--catalog", "/secrets/catalog.json")
            records = [m["record"] for m in messages if m["type"] == "RECORD"]
            for stream in ("conversations", "messages"):
                got = sorted(r["data"]["id"] for r in records if r["stream"] == stream)
                want = sorted(r["id"] for r in emulator.expected(stream))
                assert got == want, f"{stream}: {len(got)} records read, {len(want)} expected"
                print(f"read: {stream} {len(got)} records, as the emulator holds")
            assert "demo-key" not in json.dumps(messages)
    finally:
        emulator.stop()
    print(f"docker-test passed: {IMAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
