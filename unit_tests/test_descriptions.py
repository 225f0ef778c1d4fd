"""Every discovered stream says what one record is, and every column what it holds (#33 item 2): warehouses
and the Airbyte UI show these descriptions next to the tables and columns."""

from .conftest import make_config, run_discover

STREAM_COUNT = 18  # test_spec_and_discover.py names them


def _streams():
    streams = run_discover(make_config()).catalog.catalog.streams
    assert len(streams) == STREAM_COUNT
    return streams


def _described(node):
    return isinstance(node, dict) and isinstance(node.get("description"), str) and node["description"].strip() != ""


def test_every_stream_says_what_one_record_is():
    undescribed = [s.name for s in _streams() if not _described(s.json_schema)]
    assert undescribed == []


def test_every_column_of_every_stream_has_a_description():
    undescribed = [
        (s.name, column)
        for s in _streams()
        for column, spec in s.json_schema["properties"].items()
        if not _described(spec)
    ]
    assert undescribed == []


def test_an_incremental_stream_names_its_cursor_in_its_description():
    unnamed = [
        (s.name, s.default_cursor_field[0])
        for s in _streams()
        if s.default_cursor_field and s.default_cursor_field[0] not in s.json_schema["description"]
    ]
    assert unnamed == []
