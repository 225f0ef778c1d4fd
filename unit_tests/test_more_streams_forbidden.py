"""A 403 on one endpoint (a product the organization lacks, a role that may not read it) skips that stream
with a warning naming what it needs, and never fails the others, conversations and messages included; a 403 on
businesses (which every role may read) is businesses the key may not read, and fails. Check: test_check.py."""

import pytest

from .conftest import API_KEY, BASE, make_config, run_read
from .emulated_partoo import mount, requests_to

MORE = ["businesses", "reviews", "review_replies", "users", "group_sections", "groups", "organizations", "custom_fields"]


def counts(output):
    found = {name: 0 for name in MORE}
    for m in output.records:
        found[m.record.stream] += 1
    return found


def warnings(output):
    return [m.log.message for m in output.logs if m.log.level.value == "WARN"]


def test_an_organization_without_review_management_skips_reviews_and_replies_only(requests_mock, sleeps):
    mount(requests_mock, "--key-without-product", f"{API_KEY}:reviews")
    output = run_read(make_config(), *MORE)
    found = counts(output)
    assert found["reviews"] == found["review_replies"] == 0
    assert all(found[name] > 0 for name in MORE if name not in ("reviews", "review_replies")), found
    assert not output.errors
    refused = [w for w in warnings(output) if "refused access to reviews" in w]
    assert refused and all("Review Management product" in w and "Business Manager role" in w for w in refused)
    assert len(requests_to(requests_mock, "/reviews")) == 2  # one each, never retried


def test_a_publisher_key_reads_what_its_role_may_read(requests_mock, sleeps):
    mount(requests_mock, "--key-role", f"{API_KEY}:PUBLISHER")
    output = run_read(make_config(), *MORE)
    found = counts(output)
    assert found["businesses"] > 0 and found["organizations"] == 1
    assert all(found[name] == 0 for name in ("reviews", "review_replies", "users", "group_sections", "groups", "custom_fields"))
    assert not output.errors
    text = " ".join(warnings(output))
    for stream in ("reviews", "users", "groups", "custom fields"):
        assert f"refused access to {stream} (HTTP 403)" in text


@pytest.mark.parametrize("stream, path, needs", [
    ("reviews", "/reviews", "Review Management product"),
    ("review_replies", "/reviews", "Review Management product"),
    ("users", "/user/search", "allowed to list users"),
    ("group_sections", "/sections", "allowed to see the organization's groups"),
    ("groups", "/sections", "allowed to see the organization's groups"),
    ("organizations", "/org/search", "may not search organizations"),
    ("custom_fields", "/custom_fields", "custom fields (Org Admin)"),
])
def test_a_403_skips_only_its_stream_with_a_warning(requests_mock, sleeps, stream, path, needs):
    mount(requests_mock)
    requests_mock.get(f"{BASE}{path}", status_code=403, json={"errors": {"authorization": "Operation not allowed"}})
    other = "organizations" if stream != "organizations" else "businesses"
    output = run_read(make_config(), stream, other)
    assert counts(output)[stream] == 0 and counts(output)[other] > 0
    assert not output.errors
    assert any(needs in w and "skipped" in w for w in warnings(output)), warnings(output)
    assert len(requests_to(requests_mock, path)) == 1


def test_a_403_on_a_later_page_keeps_the_pages_before(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/user/search", [
        {"json": {"page": 1, "max_page": 2, "count": 2, "users": [{"id": "u1"}]}},
        {"status_code": 403, "json": {"errors": {"authorization": "Operation not allowed"}}}])
    output = run_read(make_config(), "users")
    assert [m.record.data["id"] for m in output.records] == ["u1"] and not output.errors


def test_an_organization_without_messages_loads_every_other_stream_and_skips_conversations_and_messages(requests_mock, sleeps):
    """#25: the same 403 handling for every stream; a sync of all ten streams exits without an error."""
    mount(requests_mock)
    requests_mock.get(f"{BASE}/conversations", status_code=403, json={"errors": {"authorization": "Operation not allowed"}})
    output = run_read(make_config(), "conversations", "messages", *MORE)
    found = {name: 0 for name in ["conversations", "messages", *MORE]}
    for m in output.records:
        found[m.record.stream] += 1
    assert found["conversations"] == found["messages"] == 0
    assert all(found[name] > 0 for name in MORE), found
    assert not output.errors
    refused = [w for w in warnings(output) if "refused access to conversations" in w]
    assert refused and all("Messages product" in w and "conversations and messages streams are skipped" in w for w in refused)
    assert not requests_to(requests_mock, "/messages")  # no conversation listed, no message asked for


def test_a_403_on_messages_alone_skips_them_with_the_same_warning(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/conversations", json={"conversations": [{"id": 1, "created_at": "2024-01-01 00:00:00+00:00"}],
                                                     "count": 1, "next_cursor": None})
    requests_mock.get(f"{BASE}/messages", status_code=403, json={"errors": {"authorization": "Operation not allowed"}})
    output = run_read(make_config(), "conversations", "messages")
    assert [m.record.stream for m in output.records] == ["conversations"] and not output.errors
    assert any("Messages product" in w for w in warnings(output))


@pytest.mark.parametrize("business_ids, sentence", [
    (["b-one"], "Partoo refused access to businesses b-one (HTTP 403): the API key's user may not read them; "
                "remove them from business_ids, or give the user access to them in Partoo."),
    (None, "Partoo refused access to the organization's businesses (HTTP 403): the API key's user may read none of "
           "them; use the key of a user with access to the businesses."),
])
def test_a_403_on_businesses_fails_with_the_sentence_saying_what_to_fix(requests_mock, sleeps, business_ids, sentence):
    """Every role may read its businesses: a 403 there is not a missing product but businesses the key may not read."""
    mount(requests_mock)
    requests_mock.get(f"{BASE}/business/search", status_code=403, json={"errors": {"authorization": "Operation not allowed"}})
    config = make_config(business_ids=business_ids) if business_ids else make_config()
    output = run_read(config, "businesses", "organizations", expecting_exception=True)
    errors = [e.trace.error for e in output.errors]
    assert (errors[0].message, errors[0].failure_type.value) == (sentence, "config_error")
    assert counts(output)["organizations"] == 1  # the other streams still load
    assert len(requests_to(requests_mock, "/business/search")) == 1


def test_a_group_removed_between_its_section_and_its_own_request_is_skipped(requests_mock, sleeps):
    areas = mount(requests_mock)
    requests_mock.get(f"{BASE}/sections/1/groups/12", status_code=404, json={"errors": {"json": "Resource not found"}})
    output = run_read(make_config(), "groups")
    expected = {g["id"]: g for g in areas.expected("groups", {}) if g["id"] != 12}
    assert {m.record.data["id"]: m.record.data for m in output.records} == expected
    assert not output.errors and len(requests_to(requests_mock, "/sections/1/groups/12")) == 1
