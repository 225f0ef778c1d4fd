"""The request-cost benchmark (bench/cost.py) at a tiny size: its figures exist, add up, and its correctness
checks hold (nothing lost). No cost level is asserted beyond a lower bound every version keeps: issue 13's
work lowers the costs, and figures are the benchmark's business, not a test's."""

from __future__ import annotations

import json
import math

from bench.cost import PER_PAGE, emulator_flags, headline, measure_order

CONVERSATIONS = 300


def test_cost_figures_of_an_unordered_list_add_up_and_lose_nothing(emulator_factory, tmp_path):
    emulator = emulator_factory(*emulator_flags("shuffled", CONVERSATIONS, 3))
    result = measure_order(emulator, "shuffled", CONVERSATIONS, tmp_path, quiet_syncs=1, by_stream=False)
    json.dumps(result)  # printable as JSON
    pages = math.ceil(CONVERSATIONS / PER_PAGE)
    assert result["list_pages"] == pages

    for name in ("full", "quiet_2", "changed"):
        figures = result[name]
        assert figures["exit"] == 0, figures.get("stderr_tail")
        # Every request is counted under its endpoint, and the ratios are of those counts.
        assert figures["list_requests"] + figures["messages_requests"] + figures["other_requests"] == figures["requests"]
        assert figures["other_requests"] == 0 and figures["429s"] == 0
        assert figures["requests_per_list_read"] == round(figures["requests"] / pages, 4)
        assert figures["list_reads"] == round(figures["list_requests"] / pages, 4)
        assert figures["wall_s"] > 0

    full = result["full"]
    assert full["conversations_missing"] == 0 and full["messages_missing"] == 0
    assert full["records"]["conversations"] == CONVERSATIONS

    # A list in no order must be read whole to find what changed: at least ⌈C/100⌉ pages, in any version.
    quiet = result["quiet_2"]
    assert quiet["list_requests"] >= pages
    assert quiet["requests_per_list_read"] >= 1

    changed = result["changed"]
    assert changed["changed_conversations"] == round(CONVERSATIONS * 0.01) == changed["new_messages"]
    assert changed["changed_conversations_missing"] == [] and changed["new_messages_missing"] == []
    assert changed["changed_conversations_messages_not_asked"] == []
    assert changed["records"]["conversations"] >= changed["changed_conversations"]
    assert changed["records"]["messages"] >= changed["new_messages"]
    assert changed["messages_requests"] >= changed["changed_conversations"]
    assert changed["list_requests"] >= pages

    figures = headline({"shuffled": result})
    assert figures["shuffled_quiet_2_requests"] == quiet["requests"]
    assert figures["shuffled_changed_list_requests"] == changed["list_requests"]
    assert figures["shuffled_changed_nothing_lost"] is True
