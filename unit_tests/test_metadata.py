"""metadata.yaml is complete Airbyte registry metadata, and every place that names the version or the
base image agrees with it."""

import re
import tomllib
from pathlib import Path

import yaml
from airbyte_cdk.models.connector_metadata import MetadataFile

from source_partoo.source import MANIFEST_PATH

REPO = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((REPO / "metadata.yaml").read_text())["data"]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_metadata_parses_as_airbyte_connector_metadata():
    metadata = MetadataFile.from_file(REPO / "metadata.yaml").data
    assert metadata.dockerRepository == "airbyte/source-partoo"
    assert metadata.connectorBuildOptions.baseImage == METADATA["connectorBuildOptions"]["baseImage"]


def test_required_registry_fields():
    assert METADATA["connectorType"] == "source"
    assert METADATA["connectorSubtype"] == "api"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", METADATA["definitionId"])
    assert METADATA["dockerRepository"] == "airbyte/source-partoo"
    assert METADATA["documentationUrl"].startswith("https://")
    assert METADATA["githubIssueLabel"] == "source-partoo"
    assert METADATA["icon"] == "icon.svg" and (REPO / "icon.svg").read_text().lstrip().startswith("<svg")
    assert METADATA["license"] == "MIT"
    assert METADATA["name"] == "Partoo"
    assert METADATA["releaseStage"] == "alpha"
    assert METADATA["supportLevel"] == "community"
    assert {"language:python", "cdk:low-code"} <= set(METADATA["tags"])
    assert METADATA["remoteRegistries"]["pypi"] == {"enabled": True, "packageName": "source-partoo"}
    assert {s["suite"] for s in METADATA["connectorTestSuitesOptions"]} >= {"unitTests", "acceptanceTests"}


def test_allowed_hosts_are_the_two_partoo_servers_the_manifest_uses():
    assert sorted(METADATA["allowedHosts"]["hosts"]) == ["api.partoo.co", "api.sandbox.partoo.co"]
    manifest = MANIFEST_PATH.read_text()
    for host in METADATA["allowedHosts"]["hosts"]:
        assert f"https://{host}/v2" in manifest


def test_versions_agree_everywhere():
    assert METADATA["dockerImageTag"] == VERSION
    assert f"LABEL io.airbyte.version={VERSION}" in DOCKERFILE
    changelog = (REPO / "docs" / "partoo.md").read_text().split("## Changelog", 1)[1]
    first_row = [line for line in changelog.splitlines() if re.match(r"\| \d", line)][0]
    assert first_row.startswith(f"| {VERSION} |")


def test_base_image_is_pinned_by_digest_and_matches_the_dockerfile_default():
    base = METADATA["connectorBuildOptions"]["baseImage"]
    assert re.fullmatch(r"docker\.io/airbyte/python-connector-base:4\.\d+\.\d+@sha256:[0-9a-f]{64}", base)
    assert f"ARG BASE_IMAGE={base}" in DOCKERFILE
    assert "FROM ${BASE_IMAGE}" in DOCKERFILE and "USER airbyte" in DOCKERFILE


def test_airbyte_cdk_is_pinned_to_one_version_and_locked():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["airbyte-cdk==7.39.1"]
    assert "airbyte-cdk==7.39.1" in (REPO / "constraints.txt").read_text().splitlines()
    assert yaml.safe_load(MANIFEST_PATH.read_text())["version"] == "7.39.1"


def test_the_manifest_has_no_key_twice_in_a_mapping():
    # PyYAML keeps the last of two equal keys without a word, so airbyte-cdk runs such a manifest; the Connector
    # Builder's YAML parser refuses it ("Map keys must be unique"), and the first value is dead text anyway.
    repeated = []

    def walk(node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value != "<<"]
            repeated.extend((key, node.start_mark.line + 1) for key in sorted(set(keys)) if keys.count(key) > 1)
            for _, value in node.value:
                walk(value)
        elif isinstance(node, yaml.SequenceNode):
            for value in node.value:
                walk(value)

    walk(yaml.compose(Path(MANIFEST_PATH).read_text()))
    assert repeated == []
