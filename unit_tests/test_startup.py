"""The connector's startup: serpyco-rs's docstring collection skipped (source_partoo/_startup.py), boto3 left out
of the connector's own program (source_partoo/cli.py)."""

import importlib.util
import json
import subprocess
import sys

import pytest

# Prints the patched functions' names, then the connector's own messages of every kind serialized.
# With "plain", airbyte_cdk is imported first, so its serializers are built the usual way.
PROBE = r'''
import json, sys
if sys.argv[1] == "plain":
    import airbyte_cdk.models
import source_partoo.run
from serpyco_rs import _describe
from serpyco_rs._json_schema import _convert
from airbyte_cdk.models import AirbyteMessageSerializer
from airbyte_cdk.test.entrypoint_wrapper import discover
from source_partoo.source import SourcePartoo
config = {"api_key": "k", "base_url": "http://127.0.0.1:9/v2"}
source = SourcePartoo(config=config)
messages = list(discover(source, config).get_message_iterator()) + [source.spec(None)]
dumped = []
for message in messages:
    if hasattr(message, "connectionSpecification"):
        from airbyte_cdk.models import ConnectorSpecificationSerializer as serializer
    else:
        serializer = AirbyteMessageSerializer
    dumped.append(serializer.dump(message))
    assert serializer.load(dumped[-1]) == message
print(json.dumps({"patched": [_describe.get_attributes_doc.__name__, _convert.get_attributes_doc.__name__],
                  "dumped": dumped}))
'''


def run_probe(mode):
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def patched():
    return run_probe("connector")


def test_importing_the_connector_skips_the_docstring_collection_of_the_pinned_serpyco_rs(patched):
    assert patched["patched"] == ["_no_docstrings", "_no_docstrings"]


def test_messages_serialize_exactly_as_with_the_docstrings(patched):
    plain = run_probe("plain")
    assert len(patched["dumped"]) >= 3  # discover's catalog and logs, and the spec
    assert any(m.get("type") == "CATALOG" for m in patched["dumped"])
    assert patched["dumped"] == plain["dumped"]


@pytest.mark.skipif(importlib.util.find_spec("boto3") is None, reason="boto3 is not installed: nothing to leave out")
def test_the_connector_program_leaves_out_boto3_and_a_program_importing_the_connector_can_still_import_it():
    """source_partoo/cli.py: requests-cache would import boto3 (for a DynamoDB cache) in every run."""
    program = subprocess.run([sys.executable, "-X", "importtime", "-m", "source_partoo.cli", "spec"],
                             capture_output=True, text=True, check=True)
    assert any(json.loads(line).get("type") == "SPEC" for line in program.stdout.splitlines())
    assert "botocore" not in program.stderr
    embedding = subprocess.run([sys.executable, "-X", "importtime", "-c", "import source_partoo.run, boto3"],
                               capture_output=True, text=True, check=True)
    assert "botocore" in embedding.stderr


def test_the_manifest_read_with_libyaml_is_the_one_pure_python_yaml_reads():
    """source.resolved_manifest (run on every run given a state) reads the manifest with libyaml."""
    import yaml
    from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver

    from source_partoo.source import MANIFEST_PATH, resolved_manifest

    plain = ManifestReferenceResolver().preprocess_manifest(yaml.safe_load(MANIFEST_PATH.read_text()))
    assert resolved_manifest() == plain
