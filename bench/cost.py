"""Request cost of incremental syncs (issue 13's bench figures): what a sync of both streams asks of Partoo's
quota (300 requests a minute per organization) when little or nothing changed. Prints figures (JSON); never
passes or fails, on time or on cost.

    python -m bench.cost                          # C = 20,000 conversations (full syncs: a few minutes each)
    python -m bench.cost --quick                  # C = 2,000: a smoke run
    python -m bench.cost --conversations N [--orders shuffled,newest,oldest] [--max-messages 3]
    python -m bench.cost --runtimes manifest      # package (the `source-partoo` CLI), manifest (airbyte-cdk's
                                                  # source-declarative-manifest with components.py), or both

For each runtime (`package`: the installed `source-partoo` CLI; `manifest`: airbyte-cdk's generic
`source-declarative-manifest` given manifest.yaml and components.py, in an interpreter that cannot import the
package) and each list order (the emulator's --order: `shuffled`, a list in no documented order, and `newest`,
newest activity first as an inbox lists it), against its own emulator of C conversations, the runtime runs
`read` of both streams, incremental, each sync given the previous one's state:
1. full:     the first sync, without state; records missing against the emulator's.
2. quiet_2, quiet_3 (--quiet-syncs): nothing changed since. Requests of each sync, per endpoint (list pages,
             messages), and requests ÷ ⌈C/100⌉ (one read of the list; target: at most ⌈C/100⌉ + 2 requests on the unordered list).
             On the ordered list, a proof of order that a complete read established on sync 2 shows on
             sync 3 (target ≤ 3 requests, whatever C).
3. quiet_by_stream: the same quiet sync with one stream selected at a time (from the last state, which is
             not carried on): how many list requests each stream costs alone. Both streams together cost
             their sum when each reads the list for itself, their maximum when they share one read.
4. changed:  a new message in 1% of the conversations (--changed-share, chosen with --seed), then a sync:
             requests (list pages and messages) and whether every changed conversation and every new message
             was emitted (compared with the ids the emulator returned when adding them).
Each sync's figures are from the emulator's request counts, reset before it; each step has its wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from integration_tests.conftest import CLI, REPO, Emulator, catalog

PER_PAGE = 100  # the connector's page size for the conversation list (and messages)
STREAMS = ("conversations", "messages")
LIST = "/v2/conversations"
MESSAGES = "/v2/messages"
RUNTIMES = ("package", "manifest")
SDM = Path(sys.executable).with_name("source-declarative-manifest")
MANIFEST = REPO / "source_partoo" / "manifest.yaml"
COMPONENTS = REPO / "source_partoo" / "components.py"


def read_command(runtime: str, config: Path, catalog_path: Path) -> tuple:
    """The command line and environment of `read` in `runtime`: the package's CLI, or airbyte-cdk's manifest-only
    runner with manifest.yaml and components.py in an interpreter that cannot import the package (as
    integration_tests/test_manifest_only_runner.py runs it)."""
    if runtime == "package":
        return [str(CLI), "read", "--config", str(config), "--catalog", str(catalog_path)], None
    if runtime == "manifest":
        env = dict(os.environ, AIRBYTE_ENABLE_UNSAFE_CODE="true", PYTHONPATH="", PYTHONNOUSERSITE="1")
        return [str(SDM), "read", "--config", str(config), "--catalog", str(catalog_path),
                "--manifest-path", str(MANIFEST), "--components-path", str(COMPONENTS)], env
    raise ValueError(f"unknown runtime {runtime!r}: {', '.join(RUNTIMES)}")


def emulator_flags(order: str, conversations: int, max_messages: int) -> List[str]:
    """An organization of `conversations` with few messages each (a full sync is one messages request per
    conversation, so its size is the conversations', not the messages')."""
    return ["--conversations", str(conversations), "--order", order, "--max-messages", str(max_messages)]


def list_pages(conversations: int) -> int:
    """⌈C/100⌉: the requests of one complete read of the list."""
    return max(1, math.ceil(conversations / PER_PAGE))


def sync(emulator: Emulator, workdir: Path, state: Optional[List[Dict[str, Any]]],
         streams: Sequence[str] = STREAMS, workers: int = 8, runtime: str = "package") -> Dict[str, Any]:
    """One incremental sync in `runtime` (read_command), with the emulator's request counts reset before it:
    exit code, wall time, the ids emitted per stream, the last state per stream, and the requests per endpoint."""
    (workdir / "config.json").write_text(json.dumps(emulator.config(num_workers=workers)))
    (workdir / "catalog.json").write_text(json.dumps(catalog(*streams, mode="incremental")))
    args, env = read_command(runtime, workdir / "config.json", workdir / "catalog.json")
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        args += ["--state", str(workdir / "state.json")]
    emulator.control("reset_stats", {})
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=workdir, env=env)
    wall = time.perf_counter() - started
    stats = emulator.control("stats")
    records: Dict[str, List[int]] = {stream: [] for stream in streams}
    last: Dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith('{"type":"RECORD"'):
            record = json.loads(line)["record"]
            records.setdefault(record["stream"], []).append(record["data"]["id"])
        elif line.startswith('{"type":"STATE"'):
            message = json.loads(line)["state"]
            last[message["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": message["stream"]}
    # The state of a stream this sync did not select (or did not checkpoint) is carried on unchanged.
    carried = {s["stream"]["stream_descriptor"]["name"]: s for s in state or []}
    carried.update(last)
    return {"exit": proc.returncode, "wall_s": round(wall, 2), "records": records,
            "state": list(carried.values()) or None, "stats": stats,
            "stderr_tail": proc.stderr[-2000:] if proc.returncode else ""}


def requests_of(run: Dict[str, Any], conversations: int) -> Dict[str, Any]:
    """A sync's requests: in all, per endpoint, and against one complete read of the list."""
    stats = run["stats"]
    total, listed, messages = stats.get("requests", 0), stats.get("requests " + LIST, 0), stats.get("requests " + MESSAGES, 0)
    pages = list_pages(conversations)
    return {"requests": total, "list_requests": listed, "messages_requests": messages,
            "other_requests": total - listed - messages, "429s": stats.get("429", 0),
            "requests_per_list_read": round(total / pages, 4),  # requests ÷ ⌈C/100⌉
            "list_reads": round(listed / pages, 4)}  # list requests ÷ ⌈C/100⌉: 2.0 = read twice


def figures(run: Dict[str, Any], conversations: int) -> Dict[str, Any]:
    out = {"exit": run["exit"], "wall_s": run["wall_s"], **requests_of(run, conversations),
           "records": {stream: len(ids) for stream, ids in run["records"].items()}}
    if run["exit"]:
        out["stderr_tail"] = run["stderr_tail"]
    return out


def measure_order(emulator: Emulator, order: str, conversations: int, workdir: Path, quiet_syncs: int = 2,
                  changed_share: float = 0.01, seed: int = 13, by_stream: bool = True,
                  progress: bool = False, runtime: str = "package") -> Dict[str, Any]:
    """Every figure of one list order against a running emulator of `conversations` (see the module's doc)."""
    result: Dict[str, Any] = {"runtime": runtime, "order": order, "conversations": conversations,
                              "list_pages": list_pages(conversations)}

    def step(name: str, values: Dict[str, Any]) -> None:
        result[name] = values
        if progress:
            print(json.dumps({"runtime": runtime, "order": order, name: values}), flush=True)

    # 1. The first sync, without state: everything, checked against the emulator.
    full = sync(emulator, workdir, None, runtime=runtime)
    expected_conversations = {c["id"] for c in emulator.expected("conversations")}
    expected_messages = {m["id"] for m in emulator.expected("messages")}
    step("full", {**figures(full, conversations),
                  "conversations_missing": len(expected_conversations - set(full["records"]["conversations"])),
                  "messages_missing": len(expected_messages - set(full["records"]["messages"]))})
    state = full["state"]

    # 2. Quiet syncs: nothing changed. Each one's state goes to the next (a proof of order found by one
    # shows in the next one's cost).
    for number in range(2, 2 + quiet_syncs):
        quiet = sync(emulator, workdir, state, runtime=runtime)
        step(f"quiet_{number}", figures(quiet, conversations))
        state = quiet["state"]

    # 3. The last quiet sync again, one stream at a time (their states are not carried on).
    if by_stream:
        alone = {}
        for stream in STREAMS:
            alone[stream] = figures(sync(emulator, workdir, state, streams=(stream,), runtime=runtime), conversations)
        both = result[f"quiet_{1 + quiet_syncs}"] if quiet_syncs else None
        summary = {"list_requests_sum_alone": sum(alone[s]["list_requests"] for s in STREAMS),
                   "list_requests_max_alone": max(alone[s]["list_requests"] for s in STREAMS)}
        if both is not None:
            summary["list_requests_both"] = both["list_requests"]
        step("quiet_by_stream", {**alone, **summary})

    # 4. 1% of the conversations get a new message, then one sync.
    started = time.perf_counter()
    existing = sorted(expected_conversations)
    chosen = sorted(random.Random(seed).sample(existing, max(1, round(len(existing) * changed_share))))
    added = emulator.control("add_messages", {"conversation_ids": chosen, "count": 1})["message_ids"]
    setup_wall = time.perf_counter() - started
    changed = sync(emulator, workdir, state, runtime=runtime)
    emitted_conversations, emitted_messages = set(changed["records"]["conversations"]), set(changed["records"]["messages"])
    asked_for = set(changed["stats"].get("messages_asked_for", []))
    step("changed", {**figures(changed, conversations), "setup_wall_s": round(setup_wall, 2),
                     "changed_conversations": len(chosen), "new_messages": len(added),
                     "changed_conversations_missing": sorted(set(chosen) - emitted_conversations),
                     "new_messages_missing": sorted(set(added) - emitted_messages),
                     "changed_conversations_messages_not_asked": sorted(set(chosen) - asked_for),
                     "conversations_emitted_unchanged": len(emitted_conversations - set(chosen)),
                     "messages_emitted_not_new": len(emitted_messages - set(added)),
                     "messages_asked_for_unchanged": len(asked_for - set(chosen))})
    return result


def run_order(order: str, conversations: int, max_messages: int, workdir: Path, **options: Any) -> Dict[str, Any]:
    emulator = Emulator(*emulator_flags(order, conversations, max_messages))
    started = time.perf_counter()
    try:
        result = measure_order(emulator, order, conversations, workdir, **options)
    finally:
        emulator.stop()
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def headline(results: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The issue's figures, from the per-order results."""
    out: Dict[str, Any] = {}
    for order, result in results.items():
        quiet = sorted((k for k in result if k.startswith("quiet_") and k[6:].isdigit()), key=lambda k: int(k[6:]))
        for name in quiet:
            out[f"{order}_{name}_requests"] = result[name]["requests"]
            out[f"{order}_{name}_requests_per_list_read"] = result[name]["requests_per_list_read"]
        changed = result["changed"]
        out[f"{order}_changed_requests"] = changed["requests"]
        out[f"{order}_changed_list_requests"] = changed["list_requests"]
        out[f"{order}_changed_messages_requests"] = changed["messages_requests"]
        out[f"{order}_changed_nothing_lost"] = not (changed["changed_conversations_missing"]
                                                    or changed["new_messages_missing"])
    out["targets"] = {"shuffled quiet requests": "<= ceil(C/100) + 2", "newest quiet requests": "<= 3"}
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 conversations unless --conversations")
    parser.add_argument("--conversations", type=int, help="C (default 20,000; 2,000 with --quick)")
    parser.add_argument("--orders", default="shuffled,newest", help="comma-separated: shuffled, newest, oldest")
    parser.add_argument("--runtimes", default="package,manifest",
                        help="comma-separated: package (source-partoo), manifest (source-declarative-manifest)")
    parser.add_argument("--max-messages", type=int, default=3, help="the emulator's longest conversation")
    parser.add_argument("--quiet-syncs", type=int, default=2)
    parser.add_argument("--changed-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=13, help="chooses the changed conversations")
    parser.add_argument("--no-by-stream", action="store_true", help="skip the one-stream quiet syncs")
    args = parser.parse_args(argv)
    conversations = args.conversations or (2000 if args.quick else 20000)
    orders = [o for o in args.orders.split(",") if o]
    if not set(orders) <= {"shuffled", "newest", "oldest"}:
        parser.error("--orders takes shuffled, newest, oldest")
    runtimes = [r for r in args.runtimes.split(",") if r]
    if not runtimes or not set(runtimes) <= set(RUNTIMES):
        parser.error("--runtimes takes package, manifest")
    results: Dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                               "conversations": conversations, "per_page": PER_PAGE,
                               "max_messages": args.max_messages, "changed_share": args.changed_share,
                               "seed": args.seed}
    results["runtimes"], results["headline"] = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for runtime in runtimes:
            per_order: Dict[str, Dict[str, Any]] = {}
            for order in orders:
                per_order[order] = run_order(order, conversations, args.max_messages, Path(tmp),
                                             quiet_syncs=args.quiet_syncs, changed_share=args.changed_share,
                                             seed=args.seed, by_stream=not args.no_by_stream, progress=True,
                                             runtime=runtime)
            results["runtimes"][runtime] = {"orders": per_order}
            results["headline"][runtime] = headline(per_order)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
