"""num_workers: requests in flight, and configs saved with one worker.

The installed CLI, as a subprocess, against the local Partoo emulator; tests that take `connector` run through
both runtimes (conftest.py). Its own module so that pytest-xdist (`--dist loadscope`) can run it beside the
other CLI tests."""

from __future__ import annotations

import json

import pytest

from .conftest import catalog

BOTH = ("conversations", "messages")


def test_messages_of_several_conversations_are_read_concurrently(cli, emulator_factory):
    emulator = emulator_factory("--conversations", "40", "--latency-ms", "40", "--max-messages", "5")
    run = cli("read", emulator.config(num_workers=6), catalog=catalog(*BOTH))
    assert run.returncode == 0
    assert emulator.control("stats")["max_concurrent"] >= 3  # several requests in flight at once
    assert len(run.records("messages")) == len(emulator.expected("messages"))


@pytest.mark.parametrize("workers", [2, 6])
def test_num_workers_is_exactly_the_number_of_requests_in_flight(cli, emulator_factory, workers):
    # Slow answers (150 ms each) give every worker the time to send its request: 2 workers never have
    # more than 2 requests in flight, 6 workers reach 6.
    emulator = emulator_factory("--conversations", "12", "--latency-ms", "150", "--max-messages", "5")
    run = cli("read", emulator.config(num_workers=workers), catalog=catalog("messages"))
    assert run.returncode == 0, run.stdout[-2000:]
    assert emulator.control("stats")["max_concurrent"] == workers
    assert len(run.records("messages")) == len(emulator.expected("messages"))
    assert not run.of_type("CONTROL")  # no config printed


def test_a_config_saved_with_one_worker_runs_with_two(connector, emulator_factory, tmp_path):
    # num_workers 1 (allowed up to 0.4.0) hung a sync past 10,000 conversations: airbyte-cdk's only thread
    # generated the partitions and, with 10,000 waiting, slept until one was read (docs/performance.md). The
    # spec's first config transformation makes it 2 in both runtimes: 2 requests in flight against a slow
    # Partoo, and no config printed (a config migration would print it, API key included) or written back.
    # (That it completes at 30,000 conversations is measured by bench/runtimes.py: too slow for a test.)
    emulator = emulator_factory("--conversations", "12", "--latency-ms", "150", "--max-messages", "5")
    config = emulator.config(num_workers=1)
    run = connector("read", config, catalog=catalog("messages"))
    assert run.returncode == 0, run.stdout[-2000:]
    assert emulator.control("stats")["max_concurrent"] == 2
    assert len(run.records("messages")) == len(emulator.expected("messages"))
    assert not run.of_type("CONTROL") and config["api_key"] not in run.stdout + run.stderr
    assert json.loads((tmp_path / "config.json").read_text()) == config
