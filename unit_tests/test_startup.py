"""The manifest as the package's state check reads it."""


def test_the_manifest_read_with_libyaml_is_the_one_pure_python_yaml_reads():
    """source.resolved_manifest (run on every run given a state) reads the manifest with libyaml."""
    import yaml
    from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver

    from source_partoo.source import MANIFEST_PATH, resolved_manifest

    plain = ManifestReferenceResolver().preprocess_manifest(yaml.safe_load(MANIFEST_PATH.read_text()))
    assert resolved_manifest() == plain
