"""A new user's first hour, through the real CLI in both runtimes (`connector`: `source-partoo`, then
`source-declarative-manifest` with components.py) against the emulator: a key pasted with a line break, check
with start_date today, a business id with a typo, and a read of every stream with a key Partoo rejects."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from .conftest import ALL_STREAMS, ANALYTICS_STREAMS, DEMO_KEY, catalog

EVERY_STREAM = ALL_STREAMS + ANALYTICS_STREAMS


@pytest.fixture(scope="module")
def organization(request):
    """300 conversations over 4 businesses; the demo key reads all of them."""
    from .conftest import Emulator

    running = Emulator("--conversations", "300", "--businesses", "4")
    yield running
    running.stop()


def requests_per_endpoint(emulator) -> dict:
    stats = emulator.control("stats")
    return {k.removeprefix("requests "): v for k, v in stats.items() if k.startswith("requests /")}


def status_of(run) -> dict:
    return run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]


@pytest.mark.integration
def test_a_key_pasted_with_a_line_break_works_and_is_never_printed(connector, organization):
    pasted = f" {DEMO_KEY}\r\n"
    config = organization.config(api_key=pasted)
    check = connector("check", config)
    assert status_of(check) == {"status": "SUCCEEDED"}
    read = connector("read", config, catalog=catalog("businesses", "custom_fields"))
    assert read.returncode == 0 and read.records("businesses")
    for output in (check.stdout + check.stderr, read.stdout + read.stderr):
        assert DEMO_KEY not in output and json.dumps(pasted)[1:-1] not in output


@pytest.mark.integration
def test_check_with_start_date_today_asks_each_endpoint_once(connector, organization):
    organization.control("reset_stats", {})
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    check = connector("check", organization.config(start_date=today, analytics_start_date=today))
    assert status_of(check) == {"status": "SUCCEEDED"}
    asked = requests_per_endpoint(organization)
    assert asked["/v2/conversations"] == 1 and max(asked.values()) == 1, asked


@pytest.mark.integration
def test_check_names_a_business_id_with_a_typo(connector, organization):
    business = organization.expected("businesses")[0]["id"]
    check = connector("check", organization.config(business_ids=[business, business[:-1] + "X"]))
    assert status_of(check)["status"] == "FAILED"
    assert f"business_ids names {business[:-1]}X, which the API key cannot see" in status_of(check)["message"]


@pytest.mark.integration
def test_a_rejected_key_ends_a_read_of_every_stream_with_a_few_requests_and_one_sentence(connector, organization):
    organization.control("reset_stats", {})
    config = organization.config(api_key="not-the-key", analytics_start_date="2024-01-01")  # 700+ review windows
    read = connector("read", config, catalog=catalog(*EVERY_STREAM, mode="incremental"))
    assert read.returncode == 1
    sent = organization.control("stats")["requests"]
    assert sent <= 2 * len(EVERY_STREAM), sent  # a window or two per stream, not one per window
    errors = read.errors
    assert errors and len(errors) <= sent + 1  # one per request that got the 401, then airbyte-cdk's summary
    assert all(e["failure_type"] == "config_error" for e in errors)
    assert all("Partoo rejected the API key (HTTP 401)" in e["message"] for e in errors[:-1])
    assert len(read.stdout) < 1_000_000  # was 9 MB
