"""`make bench`: figures for docs/performance.md. Prints numbers; never passes or fails on time.

    python -m bench.run                     # all figures (the dlt ones when dlt is installed: make bench)
    python -m bench.run --only rate         # or cpu, memory, dlt (all three below), dlt-cpu, dlt-sync, dlt-rate
    python -m bench.run --quick             # smaller sizes, for a smoke run

1. rate:   a full sync of both streams against the emulator with latency L and rate limit R; requests,
           429s, wall time, the floor (requests / R per second), wall / floor.
2. cpu:    records per second of a `read` of conversations with no latency, against a minimal
           `requests` loop paging the same endpoint and printing each record as an Airbyte RECORD line,
           measured in the same run against the same emulator.
3. memory: peak RSS of a full sync of both streams (a few messages per conversation) of 2,000, 20,000 and
           30,000 conversations: the ratio 20,000 / 2,000 and the peak at 30,000 (issue #13).

Against the peer, dlt's rest_api source (bench/peer_dlt.py, in the `bench` extra), each in one run
against one emulator:
4. dlt-cpu:  CPU seconds of the connector's `read` of conversations against dlt's extract of the same.
5. dlt-sync: a full sync of both streams into DuckDB, PyAirbyte (warehouse/sync.py) against dlt's pipeline.
6. dlt-rate: the rate figure (1.) for dlt on the same emulator right after the connector's (`rate` and
             `dlt-rate` share one emulator when both run).
Ratios are dlt ÷ connector: above 1.0 the connector is the faster.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Tuple

from integration_tests.conftest import CLI, REPO, Emulator, catalog

FIGURES = ["cpu", "memory", "rate", "dlt-cpu", "dlt-sync", "dlt-rate"]
PEER_FIGURES = [f for f in FIGURES if f.startswith("dlt-")]

# A full sync through PyAirbyte into DuckDB, as the main job does it (warehouse/sync.py: its check, its
# executable, its cache) but of the two streams dlt's pipeline loads (the main job syncs every stream): the
# connector runs as PyAirbyte's subprocess, whose CPU time counts in this one's once it has been waited for.
PYAIRBYTE_SYNC = r'''
import json, resource, sys
from pathlib import Path
from warehouse.sync import check, connector_executable, tz_aware_duckdb_cache  # first: offline, no telemetry
import airbyte as ab
config = json.loads(Path(sys.argv[1]).read_text())
check(config)
source = ab.get_source("source-partoo", local_executable=connector_executable(), install_if_missing=False)
source.set_config(config, validate=False)
source.select_streams(["conversations", "messages"])
result = source.read(cache=tz_aware_duckdb_cache(Path(sys.argv[2]), "partoo"), force_full_refresh=True)
counts = {name: len(dataset) for name, dataset in result.streams.items()}
children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the connector's runs: spec, discover, read
print(json.dumps({"rows": counts, "connector_cpu_s": round(children.ru_utime + children.ru_stime, 3)}))
'''

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


def run_summary(args: List[str], env: Dict[str, str], cwd: Path) -> Tuple[float, float, int, Dict[str, Any]]:
    """Run a command that prints a JSON summary as its last line: (wall s, CPU s including the children it
    waited for, exit code, the summary or {})."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    assert proc.stdout is not None
    lines = proc.stdout.read().decode().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    summaries = [line for line in lines if line.startswith("{")]
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode, json.loads(summaries[-1]) if summaries else {}


def peer_env(workers: int) -> Dict[str, str]:
    """dlt's settings come from the environment: as many threads as the connector's workers, no telemetry."""
    return dict(os.environ, PYTHONPATH=str(REPO), EXTRACT__WORKERS=str(workers), RUNTIME__DLTHUB_TELEMETRY="false")


def peer_command(command: str, emulator: Emulator, *extra: str) -> List[str]:
    return [sys.executable, "-m", "bench.peer_dlt", command, "--base-url", emulator.url, *extra]


def peer_available() -> bool:
    """Without importing dlt here: a child's peak RSS counts this process's pages until `exec`."""
    return importlib.util.find_spec("dlt") is not None


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


def bench_rate(workdir: Path, conversations: int, latency_ms: int, rate: int, workers: int,
               peer: bool = False) -> Dict[str, Any]:
    """The connector's rate figure and, with `peer`, dlt's on the same emulator right after it (its stats and
    its rate-limit window reset in between). The floor counts the requests answered (a 429 is no work done)."""
    emulator = Emulator("--conversations", str(conversations), "--latency-ms", str(latency_ms),
                        "--rate-limit", str(rate), "--max-messages", "230")
    try:
        config = emulator.config(requests_per_minute=rate, num_workers=workers)
        wall, cpu, _, records = run_measured(connector_read(config, ("conversations", "messages"), workdir))
        figures = {"connector": rate_figures(emulator.control("stats"), wall, rate, records=records)}
        if peer:
            emulator.control("reset_stats", {})
            wall, _, code, summary = run_summary(peer_command("extract", emulator), peer_env(workers), workdir)
            rows = summary.get("rows", {})
            figures["dlt"] = rate_figures(emulator.control("stats"), wall, rate, records=sum(rows.values()),
                                          exit_code=code)
    finally:
        emulator.stop()
    settings = {"conversations": conversations, "latency_ms": latency_ms, "rate_per_min": rate, "workers": workers}
    return {name: dict(settings, **values) for name, values in figures.items()}


def rate_figures(stats: Dict[str, Any], wall: float, rate: int, **extra: Any) -> Dict[str, Any]:
    answered = stats["requests"] - stats.get("429", 0)
    floor = answered / (rate / 60)
    return {**extra, "requests": stats["requests"], "429s": stats.get("429", 0), "wall_s": round(wall, 1),
            "floor_s": round(floor, 1), "wall/floor": round(wall / floor, 3), "max_concurrent": stats.get("max_concurrent")}


def bench_cpu(workdir: Path, conversations: int, rounds: int = 5) -> Dict[str, Any]:
    """Best of `rounds` for each side, interleaved, so that a noisy neighbour hurts both alike (the same
    read varies by a third on this machine from one run to the next; the fastest run is the least disturbed)."""
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "40")
    loops, reads = [], []
    try:
        warm(emulator)
        for _ in range(rounds):
            loops.append(run_measured([sys.executable, "-c", BASELINE_LOOP, emulator.url, "demo-key"]))
            # 2, the fewest workers the spec allows: the conversation list is one partition, read page after page
            reads.append(run_measured(connector_read(emulator.config(num_workers=2), ("conversations",), workdir)))
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


def bench_dlt_cpu(workdir: Path, conversations: int, rounds: int = 5) -> Dict[str, Any]:
    """CPU seconds of the connector's `read` of conversations (2 workers, as in `cpu`) against dlt's extract of
    the same resource, whole processes (imports included) on one emulator, best of `rounds` interleaved."""
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "40")
    reads, extracts = [], []
    try:
        warm(emulator)
        for _ in range(rounds):
            reads.append(run_measured(connector_read(emulator.config(num_workers=2), ("conversations",), workdir)))
            wall, cpu, code, summary = run_summary(peer_command("extract", emulator, "--resources", "conversations"),
                                                   peer_env(1), workdir)
            if code != 0:
                raise SystemExit(f"dlt extract exited {code}")
            extracts.append((wall, cpu, summary.get("rows", {}).get("conversations")))
    finally:
        emulator.stop()
    assert all(run[3] == conversations for run in reads), "the connector missed conversations"
    assert all(run[2] == conversations for run in extracts), "dlt missed conversations"
    connector_cpu, dlt_cpu = min(r[1] for r in reads), min(e[1] for e in extracts)
    connector_wall, dlt_wall = min(r[0] for r in reads), min(e[0] for e in extracts)
    return {"conversations": conversations, "rounds": rounds,
            "connector_cpu_s": round(connector_cpu, 2), "dlt_cpu_s": round(dlt_cpu, 2),
            "ratio_cpu": round(dlt_cpu / connector_cpu, 3),
            "connector_wall_s": round(connector_wall, 2), "dlt_wall_s": round(dlt_wall, 2),
            "ratio_wall": round(dlt_wall / connector_wall, 3),
            "connector_startup_cpu_s": round(startup_cpu([str(CLI), "spec"], dict(os.environ), workdir), 2),
            "dlt_startup_cpu_s": round(startup_cpu([sys.executable, "-c", "import dlt.sources.rest_api"],
                                                   peer_env(1), workdir), 2)}


def startup_cpu(args: List[str], env: Dict[str, str], cwd: Path, rounds: int = 3) -> float:
    """CPU seconds of starting up (best of `rounds`): `source-partoo spec`, or importing dlt's rest_api."""
    return min(run_summary(args, env, cwd)[1] for _ in range(rounds))


def bench_dlt_sync(workdir: Path, conversations: int, workers: int, rounds: int = 3) -> Dict[str, Any]:
    """A full sync of both streams into a new DuckDB file: PyAirbyte running the connector (warehouse/sync.py,
    the main job) against dlt's pipeline (extract, normalize, load), best of `rounds` interleaved. Each
    side's CPU time is that of its whole process tree. The connector's client-side budget is at its maximum,
    6,000 requests a minute; dlt has none."""
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "40")
    config_path = workdir / "sync-config.json"
    config_path.write_text(json.dumps(emulator.config(requests_per_minute=6000, num_workers=workers)))
    syncs, pipelines = [], []
    try:
        warm(emulator)
        expected = {"conversations": conversations, "messages": len(emulator.expected("messages"))}
        for _ in range(rounds):
            for db in workdir.glob("*.duckdb*"):
                db.unlink()
            env = dict(os.environ, PYTHONPATH=str(REPO))
            run = run_summary([sys.executable, "-c", PYAIRBYTE_SYNC, str(config_path), str(workdir / "airbyte.duckdb")],
                              env, workdir)
            syncs.append(checked_sync("PyAirbyte", run, expected))
            run = run_summary(peer_command("run", emulator, "--duckdb", str(workdir / "dlt.duckdb")),
                              peer_env(workers), workdir)
            pipelines.append(checked_sync("dlt", run, expected))
    finally:
        emulator.stop()
    airbyte_cpu, dlt_cpu = min(r[1] for r in syncs), min(r[1] for r in pipelines)
    airbyte_wall, dlt_wall = min(r[0] for r in syncs), min(r[0] for r in pipelines)
    return {"conversations": conversations, "messages": expected["messages"], "workers": workers, "rounds": rounds,
            "pyairbyte_cpu_s": round(airbyte_cpu, 2), "dlt_cpu_s": round(dlt_cpu, 2),
            # Of PyAirbyte's CPU, the connector's processes (each one a startup) in its least-CPU run:
            "pyairbyte_connector_cpu_s": min(syncs, key=lambda run: run[1])[3].get("connector_cpu_s"),
            "ratio_cpu": round(dlt_cpu / airbyte_cpu, 3),
            "pyairbyte_wall_s": round(airbyte_wall, 2), "dlt_wall_s": round(dlt_wall, 2),
            "ratio_wall": round(dlt_wall / airbyte_wall, 3),
            "dlt_steps_s_of_least_cpu": min(pipelines, key=lambda run: run[1])[3]}


def checked_sync(name: str, run: Tuple[float, float, int, Dict[str, Any]], expected: Dict[str, int]):
    wall, cpu, code, summary = run
    if code != 0:
        raise SystemExit(f"the {name} sync exited {code}")
    if summary.get("rows") != expected:
        raise SystemExit(f"the {name} sync loaded {summary.get('rows')}, expected {expected}")
    return wall, cpu, code, {k: v for k, v in summary.items() if k != "rows"}


def bench_memory(workdir: Path, sizes: Tuple[int, int, int], max_messages: int = 3) -> Dict[str, Any]:
    """Peak RSS of a full sync of both streams (`read` of conversations and messages, 8 workers, the budget
    at its maximum) for each size: issue #13's figure is the ratio of the second to the first (target
    <= 1.2) and the third in absolute (target <= 150 MB). A few messages per conversation: one request each,
    so that 30,000 conversations take about 5 minutes at 6,000 requests a minute."""
    peaks, records = {}, {}
    for size in sizes:
        emulator = Emulator("--conversations", str(size), "--max-messages", str(max_messages))
        try:
            warm(emulator)
            config = emulator.config(num_workers=8)
            _, _, peak, records[size] = run_measured(connector_read(config, ("conversations", "messages"), workdir))
        finally:
            emulator.stop()
        assert records[size] >= size
        peaks[size] = peak
    small, large, largest = sizes
    return {"streams": ["conversations", "messages"], "max_messages": max_messages,
            **{f"peak_rss_mib_{size}": peaks[size] for size in sizes},
            **{f"records_{size}": records[size] for size in sizes},
            f"ratio_{large}_{small}": round(peaks[large] / peaks[small], 3),
            f"peak_rss_mb_{largest}": round(peaks[largest] * 1.048576, 1)}


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=FIGURES + ["dlt"], help="one figure, or dlt: the three against dlt")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate-conversations", type=int, default=1400)
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--rate", type=int, default=600, help="requests per minute, emulator and connector")
    parser.add_argument("--workers", type=int, default=4, help="the connector's num_workers, dlt's extract workers")
    parser.add_argument("--sync-conversations", type=int, default=2000, help="dlt-sync's size")
    args = parser.parse_args(argv)
    selected = set(FIGURES if args.only is None else PEER_FIGURES if args.only == "dlt" else [args.only])
    if selected & set(PEER_FIGURES) and not peer_available():
        if args.only is not None:
            parser.error("dlt is not installed: `make bench` installs the bench extra")
        print("dlt is not installed (`make bench` installs it): no figures against the peer", file=sys.stderr)
        selected -= set(PEER_FIGURES)
    results: Dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if "cpu" in selected:
            results["cpu"] = bench_cpu(workdir, 2000 if args.quick else 20000)
            print(json.dumps({"cpu": results["cpu"]}), flush=True)
        if "memory" in selected:
            results["memory"] = bench_memory(workdir, (500, 2000, 3000) if args.quick else (2000, 20000, 30000))
            print(json.dumps({"memory": results["memory"]}), flush=True)
        # After memory: dlt-sync fetches the expected messages into this process, and a child's peak RSS counts
        # this process's pages until `exec`.
        if "dlt-cpu" in selected:
            results["dlt_cpu"] = bench_dlt_cpu(workdir, 2000 if args.quick else 20000, rounds=2 if args.quick else 5)
            print(json.dumps({"dlt_cpu": results["dlt_cpu"]}), flush=True)
        if "dlt-sync" in selected:
            results["dlt_sync"] = bench_dlt_sync(workdir, 200 if args.quick else args.sync_conversations,
                                                 args.workers, rounds=1 if args.quick else 3)
            print(json.dumps({"dlt_sync": results["dlt_sync"]}), flush=True)
        if selected & {"rate", "dlt-rate"}:
            size = 150 if args.quick else args.rate_conversations
            rates = bench_rate(workdir, size, args.latency_ms, args.rate, args.workers, peer="dlt-rate" in selected)
            results["rate"] = rates["connector"]  # measured either way: dlt-rate sets dlt's figure next to it
            if "dlt" in rates:
                results["rate_dlt"] = rates["dlt"]
            print(json.dumps({k: results[k] for k in ("rate", "rate_dlt") if k in results}), flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
