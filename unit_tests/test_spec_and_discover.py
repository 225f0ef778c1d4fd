"""spec and discover: the config users fill in, and the schemas warehouses create tables from."""

import yaml

from source_partoo.source import MANIFEST_PATH

from .conftest import make_config, run_discover


def test_spec_declares_exactly_the_documented_properties(cli):
    spec = cli("spec").of_type("SPEC")[0]["spec"]["connectionSpecification"]
    assert spec["required"] == ["api_key"]
    shown = {name for name, prop in spec["properties"].items() if not prop.get("airbyte_hidden")}
    assert shown == {
        "api_key", "environment", "base_url", "business_ids", "start_date", "requests_per_minute", "num_workers",
        "full_list_every_hours", "analytics_start_date",
    }
    # set by the check's config_overrides (and by tests), declared so that airbyte-cdk knows they are read
    assert set(spec["properties"]) - shown == {"_partoo_check", "_partoo_page_size", "_partoo_start_datetime",
                                               "_partoo_analytics_start"}


def test_spec_hides_the_api_key_and_defaults_to_production(cli):
    props = cli("spec").of_type("SPEC")[0]["spec"]["connectionSpecification"]["properties"]
    assert props["api_key"]["airbyte_secret"] is True
    assert props["environment"]["enum"] == ["production", "sandbox"]
    assert props["environment"]["default"] == "production"
    assert props["business_ids"]["type"] == "array" and props["business_ids"]["items"]["type"] == "string"
    assert props["requests_per_minute"]["default"] == 300
    # 2 at least: with 1, airbyte-cdk's only thread generates the partitions and, past 10,000 waiting, sleeps
    # until one is read, which only it could do (a saved 1 runs as 2: test_config_errors.py)
    assert (props["num_workers"]["minimum"], props["num_workers"]["maximum"], props["num_workers"]["default"]) == (2, 16, 4)


def test_discover_lists_both_streams_with_id_primary_keys_and_cursors():
    catalog = run_discover(make_config()).catalog.catalog
    streams = {s.name: s for s in catalog.streams}
    assert set(streams) == {"conversations", "messages", "businesses", "reviews", "review_replies", "users",
                            "group_sections", "groups", "organizations", "custom_fields",  # #14: test_more_streams_*.py
                            # #24: test_analytics_streams.py
                            "review_metrics_daily", "presence_metrics_daily", "presence_keywords_monthly", "posts",
                            "publisher_states", "feedback_results", "feedback_forms", "message_templates"}
    assert streams["conversations"].source_defined_primary_key == [["id"]]
    assert streams["messages"].source_defined_primary_key == [["id"]]
    assert streams["conversations"].default_cursor_field == ["last_activity_at"]
    assert streams["messages"].default_cursor_field == ["date"]
    assert {m.value for m in streams["messages"].supported_sync_modes} == {"full_refresh", "incremental"}
    # the analytics grains, and their day cursor
    assert streams["review_metrics_daily"].source_defined_primary_key == [["business_id"], ["date"]]
    assert streams["presence_metrics_daily"].source_defined_primary_key == [["business_id"], ["date"]]
    assert streams["presence_keywords_monthly"].source_defined_primary_key == [["business_id"], ["keyword"], ["date"]]
    assert streams["publisher_states"].source_defined_primary_key == [["business_id"], ["publisher"]]
    for name in ("review_metrics_daily", "presence_metrics_daily", "presence_keywords_monthly"):
        assert streams[name].default_cursor_field == ["date"], name


def _openapi_properties(name):
    spec = yaml.safe_load(open(MANIFEST_PATH.parent.parent / "unit_tests" / "resource" / "conversations.openapi.yaml"))
    return spec["components"]["schemas"][name]["properties"]


def test_conversation_schema_covers_every_property_of_partoos_openapi():
    schema = run_discover(make_config()).catalog.catalog.streams[0].json_schema
    assert set(_openapi_properties("Conversation")) <= set(schema["properties"])
    assert set(_openapi_properties("ConversationBusiness")) <= set(schema["properties"]["business"]["properties"])
    assert set(_openapi_properties("CustomChannel")) <= set(schema["properties"]["custom_channel"]["properties"])
    assert set(_openapi_properties("Message")) <= set(schema["properties"]["last_message"]["properties"])


def test_message_schema_covers_every_property_of_partoos_openapi():
    streams = {s.name: s for s in run_discover(make_config()).catalog.catalog.streams}
    assert set(_openapi_properties("Message")) <= set(streams["messages"].json_schema["properties"])


def test_dates_are_declared_as_timestamps_with_time_zone():
    streams = {s.name: s.json_schema for s in run_discover(make_config()).catalog.catalog.streams}
    for stream, field in [("conversations", "created_at"), ("conversations", "first_message_date"),
                          ("conversations", "last_activity_at"), ("messages", "date")]:
        prop = streams[stream]["properties"][field]
        assert prop["format"] == "date-time" and prop["airbyte_type"] == "timestamp_with_timezone", (stream, field)
    assert streams["conversations"]["properties"]["last_message"]["properties"]["date"]["format"] == "date-time"


def test_enums_are_described_but_never_enforced():
    def walk(node):
        if isinstance(node, dict):
            assert "enum" not in node, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for stream in run_discover(make_config()).catalog.catalog.streams:
        walk(stream.json_schema)
        assert stream.json_schema["additionalProperties"] is True
    conversations = run_discover(make_config()).catalog.catalog.streams[0].json_schema
    assert "Livechat" in conversations["properties"]["messaging_partner"]["description"]


def test_message_content_may_be_a_string_or_an_object():
    streams = {s.name: s.json_schema for s in run_discover(make_config()).catalog.catalog.streams}
    assert set(streams["messages"]["properties"]["content"]["type"]) == {"null", "string", "object"}
