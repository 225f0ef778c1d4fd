"""One request budget for every stream and thread: the connector never exceeds requests_per_minute."""

from .conftest import conversation, make_config, message, record_ids, run_read


def test_requests_beyond_the_budget_wait_for_the_window(partoo, sleeps):
    partoo.page_size = 1
    partoo.conversations = [conversation(i) for i in (1, 2, 3)]
    output = run_read(make_config(requests_per_minute=2), "conversations")
    assert record_ids(output, "conversations") == [1, 2, 3]
    # the third page waits until the first request leaves the (61 s) window
    assert any(55 <= s <= 61 for s in sleeps)


def test_the_budget_is_shared_by_both_streams(partoo, sleeps):
    partoo.conversations = [conversation(i) for i in (1, 2)]
    partoo.messages = {i: [message(i * 10, i, "2024-03-01 10:00:00.000000+00:00")] for i in (1, 2)}
    output = run_read(make_config(requests_per_minute=2), "conversations", "messages")
    assert sorted(record_ids(output, "messages")) == [10, 20]
    # 1 list read (shared by both streams) + 2 messages requests = 3 > 2 a window: someone waited
    assert any(50 <= s <= 61 for s in sleeps)


def test_no_waiting_under_the_budget(partoo, sleeps):
    # The same sync as above (at most 4 requests), with a budget that holds them all: every request is made and
    # every record read, without a single wait.
    partoo.conversations = [conversation(i) for i in (1, 2)]
    partoo.messages = {i: [message(i * 10, i, "2024-03-01 10:00:00.000000+00:00")] for i in (1, 2)}
    output = run_read(make_config(requests_per_minute=4), "conversations", "messages")
    assert not output.errors
    assert sorted(record_ids(output, "conversations")) == [1, 2]
    assert sorted(record_ids(output, "messages")) == [10, 20]
    assert len(partoo.requests("/messages")) == 2 and 1 <= len(partoo.requests("/conversations")) <= 2
    assert not [s for s in sleeps if s >= 1]
