"""The benchmark's peer (bench/peer_dlt.py): dlt's rest_api source must read the same records with the same
requests as the connector, or its figures compare nothing. Skipped without dlt, which only `make bench`
installs (the `bench` extra)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter

import pytest

from bench.run import rate_figures

from .conftest import REPO


def test_rate_floor_counts_only_the_answered_requests():
    figures = rate_figures({"requests": 130, "429": 10, "max_concurrent": 4}, wall=13.0, rate=600)
    assert figures["floor_s"] == 12.0  # 120 answered requests at 10 a second
    assert figures["wall/floor"] == round(13.0 / 12.0, 3)
    assert figures["429s"] == 10 and figures["requests"] == 130


def test_dlt_peer_reads_every_record_paging_by_cursor_100_at_a_time(emulator_factory, tmp_path):
    pytest.importorskip("dlt")
    emulator = emulator_factory("--conversations", "250", "--businesses", "2", "--max-messages", "230")
    run = subprocess.run([sys.executable, "-m", "bench.peer_dlt", "extract", "--base-url", emulator.url],
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    messages = emulator.expected("messages")
    assert json.loads(run.stdout.splitlines()[-1])["rows"] == {"conversations": 250, "messages": len(messages)}
    # One request per page of 100: the list's cursor and each conversation's cursor were both followed.
    per_conversation = Counter(m["conversation_id"] for m in messages)
    stats = emulator.control("stats")
    assert stats["requests /v2/conversations"] == math.ceil(250 / 100)
    assert max(per_conversation.values()) > 100  # some conversations do have several pages
    assert stats["requests /v2/messages"] == sum(max(1, math.ceil(per_conversation[c["id"]] / 100))
                                                 for c in emulator.expected("conversations"))
    assert "demo-key" not in run.stdout + run.stderr
