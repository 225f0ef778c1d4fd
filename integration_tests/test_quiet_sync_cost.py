"""Issue #22 item 3: a quiet incremental sync of both streams costs what changed, in both runtimes.

Against the emulator (which counts the requests it serves), the same two syncs through the package's CLI
(`source-partoo`) and through airbyte-cdk's manifest-only runner (`source-declarative-manifest` with
manifest.yaml and components.py, in an interpreter that cannot import the package): a first sync without
state, then a quiet one given its state. Each stream reads the conversation list itself (since 0.7.0) and, on a
list the first sync proved newest first, only its top (down to its own saved position): at most 3 requests on
a proven list, 2 × ⌈C/100⌉ + 2 on a list in no order.
"""

from __future__ import annotations

import math

import pytest

from bench.cost import LIST, MESSAGES, emulator_flags, sync

pytestmark = pytest.mark.integration

CONVERSATIONS = 150  # 2 pages of the list


@pytest.mark.parametrize("runtime", ["package", "manifest"])
@pytest.mark.parametrize("order", ["newest", "shuffled"])
def test_a_quiet_incremental_sync_of_both_streams_costs_what_changed(emulator_factory, tmp_path, runtime, order):
    emulator = emulator_factory(*emulator_flags(order, CONVERSATIONS, 1))

    first = sync(emulator, tmp_path, None, runtime=runtime)
    assert first["exit"] == 0, first["stderr_tail"]
    assert len(set(first["records"]["conversations"])) == CONVERSATIONS
    # One read of the list per stream, then one messages request per conversation.
    assert first["stats"]["requests " + LIST] == 2 * math.ceil(CONVERSATIONS / 100)
    messages_state = next(s["stream"]["stream_state"] for s in first["state"]
                          if s["stream"]["stream_descriptor"]["name"] == "messages")
    proof = messages_state["parent_state"].get("conversation_list")
    assert bool(proof) == (order == "newest")  # a complete read proves the order of a list newest first only

    quiet = sync(emulator, tmp_path, first["state"], runtime=runtime)
    assert quiet["exit"] == 0, quiet["stderr_tail"]
    stats = quiet["stats"]
    limit = 3 if order == "newest" else 2 * math.ceil(CONVERSATIONS / 100) + 2
    assert stats["requests"] <= limit, stats
    assert stats["requests"] == stats.get("requests " + LIST, 0) + stats.get("requests " + MESSAGES, 0)
    if order == "newest":
        assert stats["requests " + LIST] == 2  # each stream's first page reaches below its saved position
        assert quiet_proof(quiet) == proof  # an early stop proves only what it read: the date stays
    else:
        assert stats["requests " + LIST] == 2 * math.ceil(CONVERSATIONS / 100)  # read whole by each stream


def quiet_proof(run):
    state = next(s["stream"]["stream_state"] for s in run["state"] if s["stream"]["stream_descriptor"]["name"] == "messages")
    return state["parent_state"].get("conversation_list")
