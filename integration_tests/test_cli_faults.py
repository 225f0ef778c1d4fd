"""Faults during a sync (resets, truncated pages, HTML answers, 5xx, 429) lose and duplicate nothing.

The installed CLI, as a subprocess, against the local Partoo emulator; tests that take `connector` run through
both runtimes (conftest.py). Its own module so that pytest-xdist (`--dist loadscope`) can run it beside the
other CLI tests."""

from __future__ import annotations


from .conftest import as_loaded, catalog, run_connector

BOTH = ("conversations", "messages")


# The faults that are not a plain retried status (500 and a 502 HTML page: unit_tests/test_fault_matrix.py, and
# every kind mixed in both runtimes below).
def test_every_fault_is_survived_without_losing_or_duplicating_a_record(cli, emulator_factory):
    faults = ["drop", "truncate", "html200"]
    faulty = emulator_factory("--conversations", "25", "--max-messages", "230", "--fault-rate", "0.12",
                              "--faults", ",".join(faults), "--fault-seed", "5")
    run = cli("read", faulty.config(), catalog=catalog(*BOTH))
    assert run.returncode == 0, run.stdout[-3000:]
    stats = faulty.control("stats")
    assert [f for f in faults if not stats.get(f"fault {f}")] == [], {k: v for k, v in stats.items() if k.startswith("fault")}  # each kind happened
    for stream in BOTH:
        got = sorted(r["id"] for r in run.records(stream))
        assert got == sorted(r["id"] for r in faulty.expected(stream))  # the emulator's own records
        assert len(got) == len(set(got))


def test_random_mixed_faults_during_a_full_sync_give_the_emulators_records(emulator_factory, tmp_path):
    """Through source-declarative-manifest: the package meets each fault kind in the test above."""
    faulty = emulator_factory("--conversations", "40", "--max-messages", "230", "--fault-rate", "0.1",
                              "--fault-seed", "11")  # every fault kind, seeded
    run = run_connector("manifest-only", tmp_path, "read", faulty.config(num_workers=8), catalog=catalog(*BOTH))
    assert run.returncode == 0, run.stdout[-3000:]
    stats = faulty.control("stats")
    assert sum(v for k, v in stats.items() if k.startswith("fault ")) >= 5
    for stream in BOTH:  # every record once, as the emulator holds it (faults change no record)
        got = sorted(({k: v for k, v in r.items() if k != "last_activity_at"} for r in run.records(stream)),
                     key=lambda r: r["id"])
        assert got == sorted((as_loaded(r) for r in faulty.expected(stream)), key=lambda r: r["id"])
