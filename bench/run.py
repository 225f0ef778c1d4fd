"""`make bench`: figures for docs/performance.md. Prints numbers; never passes or fails on time.

    python -m bench.run                     # all three
    python -m bench.run --only rate         # or cpu, memory
    python -m bench.run --quick             # smaller sizes, for a smoke run

1. rate:   a full sync of both streams against the emulator with latency L and rate limit R; requests,
           429s, wall time, the floor (requests / R per second), wall / floor.
2. cpu:    records per second of a `read` of conversations with no latency, against a minimal
           `requests` loop paging the same endpoint and printing each record as an Airbyte RECORD line,
           measured in the same run against the same emulator.
3. memory: peak RSS of the connector reading 10,000 against 100,000 conversations.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Tuple

from integration_tests.conftest import CLI, Emulator, catalog

BASELINE_LOOP = r'''
import json, sys, time, requests
base, key = sys.argv[1], sys.argv[2]
session = requests.Session()
session.headers["x-APIKey"] = key
cursor, out = None, sys.stdout
while True:
    params = {"per_page": 100}
    if cursor:
        params["cursor"] = cursor
    page = session.get(f"{base}/conversations", params=params, timeout=60).json()
    for record in page["conversations"]:
        out.write(json.dumps({"type": "RECORD", "record": {"stream": "conversations", "data": record,
                                                            "emitted_at": int(time.time() * 1000)}}) + "\n")
    cursor = page.get("next_cursor")
    if not cursor:
        break
'''


def run_measured(args: List[str], env: Dict[str, str] | None = None) -> Tuple[float, float, int, int]:
    """Run a command with stdout counted: (wall seconds, CPU seconds, peak RSS MiB, RECORD lines)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    records = sum(1 for line in proc.stdout if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"'))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args[:2]} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, records


def warm(emulator: Emulator) -> None:
    """Let the emulator sort its conversations before timing starts, with one cheap page. (Fetching every
    record here would grow this process, and a child's peak RSS counts the parent's pages until exec.)"""
    request = urllib.request.Request(f"{emulator.url}/conversations?per_page=1", headers={"x-APIKey": "demo-key"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def connector_read(config: Dict[str, Any], streams: Tuple[str, ...], workdir: Path) -> List[str]:
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "catalog.json").write_text(json.dumps(catalog(*streams)))
    return [str(CLI), "read", "--config", str(workdir / "config.json"), "--catalog", str(workdir / "catalog.json")]


def bench_rate(workdir: Path, conversations: int, latency_ms: int, rate: int, workers: int) -> Dict[str, Any]:
    emulator = Emulator("--conversations", str(conversations), "--latency-ms", str(latency_ms),
                        "--rate-limit", str(rate), "--max-messages", "230")
    try:
        config = emulator.config(requests_per_minute=rate, num_workers=workers)
        wall, cpu, _, records = run_measured(connector_read(config, ("conversations", "messages"), workdir))
        stats = emulator.control("stats")
    finally:
        emulator.stop()
    requests_made = stats["requests"]
    floor = requests_made / (rate / 60)
    return {"conversations": conversations, "latency_ms": latency_ms, "rate_per_min": rate, "workers": workers,
            "records": records, "requests": requests_made, "429s": stats.get("429", 0),
            "wall_s": round(wall, 1), "floor_s": round(floor, 1), "wall/floor": round(wall / floor, 3),
            "max_concurrent": stats.get("max_concurrent")}


def bench_cpu(workdir: Path, conversations: int, rounds: int = 5) -> Dict[str, Any]:
    """Best of `rounds` for each side, interleaved, so that a noisy neighbour hurts both alike (the same
    read varies by a third on this machine from one run to the next; the fastest run is the least disturbed)."""
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "40")
    loops, reads = [], []
    try:
        warm(emulator)
        for _ in range(rounds):
            loops.append(run_measured([sys.executable, "-c", BASELINE_LOOP, emulator.url, "demo-key"]))
            reads.append(run_measured(connector_read(emulator.config(num_workers=1), ("conversations",), workdir)))
    finally:
        emulator.stop()
    assert all(run[3] == conversations for run in loops + reads)
    loop, read = min(loops), min(reads)  # fastest wall time of each
    return {"conversations": conversations, "rounds": rounds,
            "loop_records_per_s": round(loop[3] / loop[0]), "connector_records_per_s": round(read[3] / read[0]),
            "ratio_records_per_s": round((read[3] / read[0]) / (loop[3] / loop[0]), 3),
            "loop_cpu_s": round(min(r[1] for r in loops), 2), "connector_cpu_s": round(min(r[1] for r in reads), 2),
            "ratio_records_per_cpu_s": round(min(r[1] for r in loops) / min(r[1] for r in reads), 3),
            "connector_startup_s": round(startup_seconds(), 2)}


def startup_seconds(rounds: int = 3) -> float:
    """Wall time of `source-partoo spec` (best of `rounds`): importing airbyte-cdk and loading the manifest,
    paid once per run."""
    walls = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([str(CLI), "spec"], stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - started)
    return min(walls)


def bench_memory(workdir: Path, sizes: Tuple[int, int], streams: Tuple[str, ...], max_messages: int) -> Dict[str, Any]:
    peaks = {}
    for size in sizes:
        emulator = Emulator("--conversations", str(size), "--max-messages", str(max_messages))
        try:
            warm(emulator)
            config = emulator.config(num_workers=8)
            _, _, peak, records = run_measured(connector_read(config, streams, workdir))
        finally:
            emulator.stop()
        assert records >= size
        peaks[size] = peak
    small, large = sizes
    return {"streams": list(streams), f"peak_rss_mib_{small}": peaks[small], f"peak_rss_mib_{large}": peaks[large],
            "ratio": round(peaks[large] / peaks[small], 3)}


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["rate", "cpu", "memory"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate-conversations", type=int, default=1400)
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--rate", type=int, default=600, help="requests per minute, emulator and connector")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    results: Dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only in (None, "cpu"):
            results["cpu"] = bench_cpu(workdir, 2000 if args.quick else 20000)
            print(json.dumps({"cpu": results["cpu"]}), flush=True)
        if args.only in (None, "memory"):
            results["memory"] = bench_memory(workdir, (1000, 10000) if args.quick else (10000, 100000),
                                             ("conversations",), 40)
            print(json.dumps({"memory": results["memory"]}), flush=True)
            # Both streams: one messages partition per conversation, where airbyte-cdk keeps per-partition
            # bookkeeping. One message per conversation keeps it to about one request per conversation.
            results["memory_both_streams"] = bench_memory(workdir, (500, 2000) if args.quick else (2000, 20000),
                                                          ("conversations", "messages"), 1)
            print(json.dumps({"memory_both_streams": results["memory_both_streams"]}), flush=True)
        if args.only in (None, "rate"):
            size = 150 if args.quick else args.rate_conversations
            results["rate"] = bench_rate(workdir, size, args.latency_ms, args.rate, args.workers)
            print(json.dumps({"rate": results["rate"]}), flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
