"""Every record validates against the discovered schema, including every content variant, nulls,
unknown enum values, new fields and a content whose type changed."""

import jsonschema

from .conftest import conversation, make_config, message, run_discover, run_read

VARIANTS = [
    ("Text", "hello"), ("Image", "https://x/i.jpg"), ("Video", {"url": "https://x/v.mp4", "file_name": None}),
    ("Audio", {"url": "https://x/a.ogg", "file_name": "a.ogg"}), ("Document", {"url": "https://x/d", "file_name": "d"}),
    ("IgStoryReply", {"url": "https://ig/s", "content": "Nice", "content_type": "Text", "id": "17"}),
    ("IgStoryMention", "https://ig/stories/1"), ("Unsupported", {"type": "unknown"}),
    ("Text", "Solving"), ("Text", "Reopening"),
    ("Carousel", {"cards": [{"title": "unknown content type"}]}), ("Text", None),
]


def test_every_record_validates_against_the_discovered_schema(partoo):
    partoo.conversations = [
        conversation(1, messaging_partner="Telegram", issues=["brand_new_issue"], status="Archived",
                     custom_channel={"id": "c", "name": "Web", "icon": None, "is_readonly": True,
                                     "external_conversation_id": "e1"}, new_top_level_field={"x": 1}),
        conversation(2, last=None, consumer_name=None, consumer_img=None, assigned_user_id=None,
                     business={"id": "b2", "name": None, "city": None, "zipcode": None, "country": None,
                               "formatted_address": None}, first_message_date=None),
    ]
    partoo.messages = {1: [
        message(10 + i, 1, f"2024-03-01 10:00:0{i % 10}.000000+00:00", content_type=kind, content=content,
                sender_type=["User", "Consumer", "Metadata", "Bot"][i % 4], user_id=None, sender_label=None,
                custom_channel={"external_message_id": "m"} if i == 0 else None)
        for i, (kind, content) in enumerate(VARIANTS)
    ]}
    schemas = {s.name: s.json_schema for s in run_discover(make_config()).catalog.catalog.streams}
    output = run_read(make_config(), "conversations", "messages")
    streams = {m.record.stream for m in output.records}
    assert streams == {"conversations", "messages"}
    assert len([m for m in output.records if m.record.stream == "messages"]) == len(VARIANTS)
    for m in output.records:
        jsonschema.validate(m.record.data, schemas[m.record.stream])


def test_unknown_values_and_fields_are_loaded_as_they_come(partoo):
    partoo.conversations = [conversation(1, messaging_partner="Telegram", brand_new={"a": [1]})]
    partoo.messages = {1: [message(5, 1, "2024-03-01 10:00:00.000000+00:00", sender_type="Bot",
                                   content_type="Carousel", content={"cards": []}, reactions=["+1"])]}
    output = run_read(make_config(), "conversations", "messages")
    by_stream = {m.record.stream: m.record.data for m in output.records}
    assert by_stream["conversations"]["messaging_partner"] == "Telegram"
    assert by_stream["conversations"]["brand_new"] == {"a": [1]}
    assert by_stream["messages"]["sender_type"] == "Bot"
    assert by_stream["messages"]["content"] == {"cards": []}
    assert by_stream["messages"]["reactions"] == ["+1"]
