"""airbyte-cdk's own standard test suite (spec, check, discover, basic read), against the emulator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from boltons.typeutils import classproperty

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_partoo.source import SourcePartoo

from .conftest import REPO, Emulator

STANDARD_PORT = 18765  # integration_tests/*_config.json point here


@pytest.fixture(scope="module", autouse=True)
def standard_emulator() -> Iterator[Emulator]:
    # The Makefile runs pytest with --dist loadfile, so this module alone owns the fixed port.
    running = Emulator("--conversations", "40", "--businesses", "3", port=STANDARD_PORT)
    yield running
    running.stop()


def _docker_daemon_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


class TestPartooStandardSuite(SourceTestSuiteBase):
    connector = SourcePartoo

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return REPO

    @classproperty
    def connector_name(cls) -> str:  # the clone's folder may be named anything
        return "source-partoo"

    @classproperty
    def acceptance_test_config(cls) -> Any:
        # The house layout keeps Airbyte's fixtures, this file included, in integration_tests/.
        return yaml.safe_load((REPO / "integration_tests" / "acceptance-test-config.yml").read_text())

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> SourcePartoo:
        # A declarative source builds its streams from the config it is constructed with.
        config = scenario.get_config_dict(connector_root=REPO, empty_if_missing=True) if scenario else {}
        return SourcePartoo(config=config)

    @pytest.fixture(autouse=True)
    def _skip_docker_tests_without_a_daemon(self, request: pytest.FixtureRequest) -> None:
        # Work-around for a defect of airbyte-cdk 7.39.1's suite: its image tests skip only when no
        # docker CLI exists, and fail when a CLI exists without a daemon (as on this project's CI).
        # The image is tested by `make docker-test` where a daemon runs.
        if "docker" in request.node.name and not _docker_daemon_answers():
            pytest.skip("no Docker daemon answers `docker info`; the image is tested by `make docker-test`")
