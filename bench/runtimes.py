"""Issue #22 items 4 and 5: memory and completion of the connector in both runtimes. Prints figures (JSON
lines, then a summary); never passes or fails on time. The figures go to docs/performance.md ("Both runtimes").

    python -m bench.runtimes                                  # both runtimes, 20,000 and 100,000, then the sweep
    python -m bench.runtimes --runtime manifest-only --only sizes --conversations 20000,100000
    python -m bench.runtimes --only workers --workers 1,2,4,8,16 --sweep-conversations 30000
    python -m bench.runtimes --quick                          # 2,000 conversations, sweep at 3,000: a smoke run

Runtimes (--runtime package|manifest-only|both), as integration_tests/conftest.py runs them:
  package:        the installed `source-partoo` with this tree first on PYTHONPATH;
  manifest-only:  `source-declarative-manifest --manifest-path source_partoo/manifest.yaml --components-path
                  source_partoo/components.py`, AIRBYTE_ENABLE_UNSAFE_CODE=true, no PYTHONPATH (it cannot
                  import the packaged connector): what the connector does with nothing but its manifest.

1. sizes:   for each C of --conversations, an emulator of C conversations with one message each
            (--max-messages 1), unlimited, the connector at requests_per_minute 6000 and --sizes-workers
            (8): a full sync of conversations and messages (incremental, no state), then 3 new messages,
            then an incremental sync from the full sync's final state. Per sync: exit code, wall, CPU seconds
            and peak RSS of the connector process, records emitted against expected (missing ids), requests,
            WARN log lines in all and those whose text (numbers blanked) repeats at least --repeat times,
            i.e. once per partition or so, with their most frequent texts.
2. workers: for each num_workers of --workers, a full sync of both streams of --sweep-conversations (30,000)
            conversations: completed (exit code, every record emitted) or hung. num_workers 1 is a config
            saved before 0.4.0, which the spec's config migration runs with 2 (one worker hung past 10,000). A run is killed when its
            stdout has not grown for --stall-s seconds (180) or after --bound-s seconds in all (1,800; the
            floor at 6,000 requests a minute is about 310 s at 30,000); killed runs are reported as such.

Each run goes through a small wrapper process (WRAPPER below) that starts the connector, writes its stdout
to a file, polls that file for progress, and reports getrusage(RUSAGE_CHILDREN): the connector's own peak
RSS and CPU. (A child's peak RSS counts its parent's pages until `exec`: the wrapper is small, this process
is not once it holds the expected ids.) RSS is reported in MiB (ru_maxrss / 1024) and MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

from integration_tests.conftest import CLI, COMPONENTS, MANIFEST, REPO, SDM, Emulator, catalog

from bench.run import warm

RUNTIMES = ("package", "manifest-only")
STREAMS = ("conversations", "messages")
RATE = 6000  # requests a minute: the spec's maximum

# Runs one connector command with stdout to a file; kills its process group when the file stops growing for
# STALL seconds or after BOUND seconds; prints the children's rusage as one JSON line.
WRAPPER = r'''
import json, os, resource, signal, subprocess, sys, time
out_path, stall, bound, env_json, cwd = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
args = sys.argv[6:]
env = json.loads(env_json)
started = time.monotonic()
with open(out_path, "wb") as out, open(out_path + ".stderr", "wb") as err:
    proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
killed, size, grew = None, -1, started
while proc.poll() is None:
    time.sleep(1)
    now = time.monotonic()
    current = os.path.getsize(out_path)
    if current != size:
        size, grew = current, now
    elif now - grew > stall:
        killed = f"no output for {stall:.0f} s"
    if killed is None and now - started > bound:
        killed = f"still running after {bound:.0f} s"
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        break
wall = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"exit": proc.returncode, "killed": killed, "wall_s": round(wall, 1),
                  "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "peak_rss_kib": usage.ru_maxrss,
                  "seconds_since_last_output": round(now - grew, 1) if killed else None}))
'''


def connector_command(runtime: str, command: str, files: Dict[str, Path],
                      manifest: Path = MANIFEST) -> tuple[List[str], Dict[str, str]]:
    """The command line and environment of `runtime` (integration_tests/conftest.run_connector's); `manifest`
    (manifest-only) lets a proposed manifest be measured without editing the connector's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if runtime == "package":
        args = [str(CLI), command]
        env["PYTHONPATH"] = str(REPO)
    else:
        args = [str(SDM), command, "--manifest-path", str(manifest), "--components-path", str(COMPONENTS)]
        env.update(AIRBYTE_ENABLE_UNSAFE_CODE="true", PYTHONNOUSERSITE="1")
    for name, path in files.items():
        args += [f"--{name}", str(path)]
    return args, env


def template(message: str) -> str:
    """A log message with its numbers blanked: the same text for every partition."""
    return re.sub(r"\d+", "#", message)[:160]


def parse_output(path: Path, repeat: int) -> Dict[str, Any]:
    """Records (ids per stream), the last state per stream, and WARN/ERROR log lines of a run's stdout."""
    ids: Dict[str, List[int]] = {s: [] for s in STREAMS}
    last: Dict[str, Any] = {}
    warns: Counter = Counter()
    errors: List[str] = []
    with path.open("rb") as lines:
        for raw in lines:
            if raw.startswith(b'{"type":"RECORD"'):
                record = json.loads(raw)["record"]
                ids.setdefault(record["stream"], []).append(record["data"]["id"])
            elif raw.startswith(b'{"type":"STATE"'):
                state = json.loads(raw)["state"]
                last[state["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": state["stream"]}
            elif raw.startswith(b'{"type":"LOG"'):
                log = json.loads(raw)["log"]
                if log["level"] in ("WARN", "WARNING"):
                    warns[template(log["message"])] += 1
            elif raw.startswith(b'{"type":"TRACE"') and b'"ERROR"' in raw:
                errors.append(json.loads(raw)["trace"]["error"].get("message", "")[:300])
    repeated = {text: n for text, n in warns.items() if n >= repeat}
    return {"ids": ids, "state": list(last.values()), "warn_lines": sum(warns.values()),
            "warn_lines_repeated": sum(repeated.values()),
            "warn_repeated_texts": dict(Counter(repeated).most_common(3)), "errors": errors[:3]}


def read_files(workdir: Path, config: Dict[str, Any], catalog_: Dict[str, Any],
               state: Optional[List[Dict[str, Any]]]) -> Dict[str, Path]:
    """The files of a `read` (config, catalog, and state when given), written in `workdir`: connector_command's."""
    files = {"config": workdir / "config.json", "catalog": workdir / "catalog.json"}
    files["config"].write_text(json.dumps(config))
    files["catalog"].write_text(json.dumps(catalog_))
    if state is not None:
        files["state"] = workdir / "state.json"
        files["state"].write_text(json.dumps(state))
    return files


def run(runtime: str, emulator: Emulator, workdir: Path, *, workers: int, state: Optional[List[Dict[str, Any]]],
        stall_s: float, bound_s: float, repeat: int, manifest: Path = MANIFEST) -> Dict[str, Any]:
    """One `read` of both streams by `runtime`, through WRAPPER: its rusage, exit, records, state, warnings."""
    files = read_files(workdir, emulator.config(requests_per_minute=RATE, num_workers=workers),
                       catalog(*STREAMS, mode="incremental"), state)
    args, env = connector_command(runtime, "read", files, manifest)
    out = workdir / "stdout.jsonl"
    emulator.control("reset_stats", {})
    wrapper = subprocess.run([sys.executable, "-c", WRAPPER, str(out), str(stall_s), str(bound_s), json.dumps(env),
                              str(workdir), *args], capture_output=True, text=True, cwd=workdir)
    usage = json.loads(wrapper.stdout.strip().splitlines()[-1])
    stats = emulator.control("stats")
    parsed = parse_output(out, repeat)
    stderr = (workdir / "stdout.jsonl.stderr").read_text(errors="replace")
    out.unlink()
    kib = usage.pop("peak_rss_kib")
    result = {**usage, "peak_rss_mib": kib // 1024, "peak_rss_mb": round(kib * 1024 / 1e6, 1),
              "requests": stats.get("requests", 0), "429s": stats.get("429", 0), **parsed}
    if usage["exit"] != 0 or usage["killed"]:
        result["stderr_tail"] = stderr[-1500:]
    return result


def emitted(result: Dict[str, Any], expected: Dict[str, Set[int]]) -> Dict[str, Any]:
    """Records emitted per stream against the expected ids: counts, and how many expected were missing."""
    out: Dict[str, Any] = {}
    for stream in STREAMS:
        got = set(result["ids"].get(stream, []))
        out[f"{stream}_emitted"] = len(result["ids"].get(stream, []))
        out[f"{stream}_expected"] = len(expected[stream])
        out[f"{stream}_missing"] = len(expected[stream] - got)
    return out


def figures(result: Dict[str, Any], expected: Dict[str, Set[int]]) -> Dict[str, Any]:
    keep = ("exit", "killed", "wall_s", "cpu_s", "peak_rss_mib", "peak_rss_mb", "requests", "429s", "warn_lines",
            "warn_lines_repeated", "warn_repeated_texts", "errors", "stderr_tail", "seconds_since_last_output")
    return {**{k: result[k] for k in keep if k in result and result[k] not in (None, [], {})},
            **emitted(result, expected)}


def bench_size(runtime: str, conversations: int, workdir: Path, workers: int, stall_s: float, bound_s: float,
               repeat: int, manifest: Path = MANIFEST) -> Dict[str, Any]:
    """A full sync of both streams, 3 new messages, then an incremental sync from the full sync's state."""
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "1")
    try:
        warm(emulator)
        expected = {"conversations": {c["id"] for c in emulator.expected("conversations")},
                    "messages": {m["id"] for m in emulator.expected("messages")}}
        full = run(runtime, emulator, workdir, workers=workers, state=None, stall_s=stall_s, bound_s=bound_s,
                   repeat=repeat, manifest=manifest)
        row = {"runtime": runtime, "conversations": conversations, "workers": workers,
               "full": figures(full, expected)}
        print(json.dumps(row), flush=True)
        changed = [1, conversations // 2, conversations]
        added = emulator.control("add_messages", {"conversation_ids": changed, "count": 1})["message_ids"]
        incremental = run(runtime, emulator, workdir, workers=workers, state=full["state"] or None,
                          stall_s=stall_s, bound_s=bound_s, repeat=repeat, manifest=manifest)
        row["incremental"] = figures(incremental, {"conversations": set(changed), "messages": set(added)})
        row["incremental"]["had_state"] = bool(full["state"])
        print(json.dumps({k: row[k] for k in ("runtime", "conversations", "incremental")}), flush=True)
    finally:
        emulator.stop()
    return row


def bench_workers(runtime: str, conversations: int, workers: Sequence[int], workdir: Path, stall_s: float,
                  bound_s: float, repeat: int, manifest: Path = MANIFEST) -> List[Dict[str, Any]]:
    """A full sync of both streams per num_workers, one emulator: completed or hung (killed)."""
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "1")
    rows = []
    try:
        warm(emulator)
        expected = {"conversations": {c["id"] for c in emulator.expected("conversations")},
                    "messages": {m["id"] for m in emulator.expected("messages")}}
        for count in workers:
            result = figures(run(runtime, emulator, workdir, workers=count, state=None, stall_s=stall_s,
                                 bound_s=bound_s, repeat=repeat, manifest=manifest), expected)
            result["completed"] = (result["exit"] == 0 and not result.get("killed")
                                   and result["messages_missing"] == 0 and result["conversations_missing"] == 0)
            row = {"runtime": runtime, "conversations": conversations, "num_workers": count, **result}
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        emulator.stop()
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", choices=[*RUNTIMES, "both"], default="both")
    parser.add_argument("--only", choices=["sizes", "workers"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--conversations", help="comma-separated sizes (default 20000,100000)")
    parser.add_argument("--sizes-workers", type=int, default=8, help="num_workers of the size runs")
    parser.add_argument("--workers", default="1,2,4,8,16", help="the num_workers values of the sweep")
    parser.add_argument("--sweep-conversations", type=int, help="the sweep's size (default 30000)")
    parser.add_argument("--stall-s", type=float, default=180, help="kill a run whose stdout has not grown for this")
    parser.add_argument("--bound-s", type=float, default=1800, help="kill a workers-sweep run after this")
    parser.add_argument("--manifest", type=Path, default=MANIFEST,
                        help="manifest-only: run this manifest instead (a proposed change, measured)")
    parser.add_argument("--repeat", type=int, default=50, help="a WARN text this often counts as per partition")
    args = parser.parse_args(argv)
    runtimes = RUNTIMES if args.runtime == "both" else (args.runtime,)
    if args.manifest != MANIFEST and runtimes != ("manifest-only",):
        parser.error("--manifest is for --runtime manifest-only (the package runs its own)")
    sizes = [int(s) for s in (args.conversations or ("2000" if args.quick else "20000,100000")).split(",") if s]
    sweep = args.sweep_conversations or (3000 if args.quick else 30000)
    results: Dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                           "load_avg_at_start": os.getloadavg()[0]},
                               "rate_per_min": RATE, "max_messages": 1, "stall_s": args.stall_s,
                               "bound_s": args.bound_s, "manifest": str(args.manifest), "sizes": [], "workers": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for runtime in runtimes:
            if args.only in (None, "sizes"):
                for size in sizes:
                    # The size runs are bounded by stall only (and by 10x a generous floor, for safety).
                    bound = max(args.bound_s, size * 0.1)
                    results["sizes"].append(bench_size(runtime, size, workdir, args.sizes_workers, args.stall_s,
                                                       bound, args.repeat, args.manifest))
            if args.only in (None, "workers"):
                results["workers"] += bench_workers(runtime, sweep, [int(w) for w in args.workers.split(",")],
                                                    workdir, args.stall_s, args.bound_s, args.repeat, args.manifest)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
