"""A 403 on one endpoint (a product the organization lacks, a role that may not read it) skips that stream
with a warning naming what it needs, and never fails the others; check says which streams the key can read."""

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
    ("businesses", "/business/search", "may not read"),
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
    output = run_read(make_config(business_ids=["b-one"]) if stream == "businesses" else make_config(), stream, other)
    assert counts(output)[stream] == 0 and counts(output)[other] > 0
    assert not output.errors
    assert any(needs in w and "skipped" in w for w in warnings(output)), warnings(output)
    assert len(requests_to(requests_mock, path)) == 1
    if stream == "businesses":
        assert any("b-one" in w for w in warnings(output))


def test_a_403_on_a_later_page_keeps_the_pages_before(requests_mock, sleeps):
    requests_mock.get(f"{BASE}/user/search", [
        {"json": {"page": 1, "max_page": 2, "count": 2, "users": [{"id": "u1"}]}},
        {"status_code": 403, "json": {"errors": {"authorization": "Operation not allowed"}}}])
    output = run_read(make_config(), "users")
    assert [m.record.data["id"] for m in output.records] == ["u1"] and not output.errors


def test_check_says_which_streams_the_key_can_read(cli, requests_mock, sleeps, caplog):
    mount(requests_mock, "--key-without-product", f"{API_KEY}:reviews")
    requests_mock.get(f"{BASE}/conversations", json={"conversations": [{"id": 1}], "next_cursor": None})
    result = cli("check", make_config())
    status = result.connection_status
    assert status["status"] == "SUCCEEDED"
    assert status["message"] == (
        "Besides conversations and messages, the key can read businesses, users, group_sections, groups, "
        "organizations, custom_fields; may not read reviews, review_replies (HTTP 403: see the logs for the "
        "product and role needed).")
    logs = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("may not read reviews, review_replies" in m and "Review Management product" in m for m in logs)
    # cheap: one request of one record per endpoint
    for path in ("/conversations", "/business/search", "/reviews", "/user/search", "/sections", "/org/search", "/custom_fields"):
        [request] = requests_to(requests_mock, path)
        assert request.qs["per_page"] == ["1"]


def test_check_fails_on_conversations_alone_and_probes_nothing_else(cli, requests_mock, sleeps):
    mount(requests_mock)
    requests_mock.get(f"{BASE}/conversations", status_code=403, json={"errors": {"authorization": "no"}})
    status = cli("check", make_config()).connection_status
    assert status["status"] == "FAILED" and "Messages product" in status["message"]
    assert [r.path for r in requests_mock.request_history] == ["/v2/conversations"]


def test_a_group_removed_between_its_section_and_its_own_request_is_skipped(requests_mock, sleeps):
    areas = mount(requests_mock)
    requests_mock.get(f"{BASE}/sections/1/groups/12", status_code=404, json={"errors": {"json": "Resource not found"}})
    output = run_read(make_config(), "groups")
    expected = {g["id"]: g for g in areas.expected("groups", {}) if g["id"] != 12}
    assert {m.record.data["id"]: m.record.data for m in output.records} == expected
    assert not output.errors and len(requests_to(requests_mock, "/sections/1/groups/12")) == 1
