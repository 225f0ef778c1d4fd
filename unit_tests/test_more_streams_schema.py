"""Every record of the emulator's streams beyond Messages validates against the discovered schema; the
schemas keep enums open, allow new properties, and type every date the connector adds as a timestamp."""

import jsonschema

from .conftest import make_config, run_discover, run_read
from .emulated_partoo import mount

MORE = ["businesses", "reviews", "review_replies", "users", "group_sections", "groups", "organizations", "custom_fields"]


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_every_emulator_record_validates_against_the_discovered_schema(requests_mock, sleeps):
    mount(requests_mock, "--reviews", "120")
    schemas = {s.name: s.json_schema for s in run_discover(make_config()).catalog.catalog.streams}
    output = run_read(make_config(), *MORE)
    seen = {name: 0 for name in MORE}
    for m in output.records:
        jsonschema.validate(m.record.data, schemas[m.record.stream])
        seen[m.record.stream] += 1
    assert all(seen.values()), seen


def test_schemas_are_open_and_dates_are_timestamps_with_time_zone():
    streams = {s.name: s for s in run_discover(make_config()).catalog.catalog.streams}
    for name in MORE:
        schema = streams[name].json_schema
        assert schema["additionalProperties"] is True
        for node in _walk(schema):
            assert "enum" not in node, name
            if "object" in (node.get("type") or []) and node is not schema:
                assert node.get("additionalProperties") is True, (name, node)
        for field, spec in schema["properties"].items():
            if field.endswith("_utc"):
                assert spec["airbyte_type"] == "timestamp_with_timezone" and spec["format"] == "date-time", (name, field)
    assert streams["businesses"].default_cursor_field == ["modified"]
    assert streams["reviews"].default_cursor_field == ["update_date_utc"]
    assert streams["review_replies"].default_cursor_field == ["review_update_date_utc"]
    assert streams["organizations"].source_defined_primary_key == [["org_id"]]
    for name in ("users", "group_sections", "groups", "organizations", "custom_fields"):
        assert [m.value for m in streams[name].supported_sync_modes] == ["full_refresh"], name
