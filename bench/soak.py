"""`make soak`: successive incremental syncs of a live inbox, and a sync past airbyte-cdk's partition limit.
Prints figures (JSON lines); never passes or fails on time. The figures go to docs/reliability.md.

    python -m bench.soak                          # 10 syncs of a live 20,000-conversation inbox, then 30,000
    python -m bench.soak --quick                  # 3 syncs of 2,000, then 3,000: a smoke run
    python -m bench.soak --only live|large

1. live:  SYNCS successive incremental syncs of both streams, each given the previous one's state, while the
          emulator's inbox changes (a new message, conversation or deletion every LIVE_EVERY requests: the
          issue's "one new message every 40 requests"). After each sync: its exit code, requests, records,
          and, over all syncs so far, the messages lost (they existed when that sync started and no sync
          emitted them) and duplicated (emitted more than once; deduplicated downstream by primary key).
2. large: a full sync of both streams of 30,000 conversations (over airbyte-cdk's 25,000 partitions kept in
          memory), then an incremental sync from its state: records missing, and what the second one read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

from integration_tests.conftest import CLI, Emulator, catalog


def read(emulator: Emulator, workdir: Path, state: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """One incremental sync of both streams by the installed CLI: exit code, records by stream, last states."""
    (workdir / "config.json").write_text(json.dumps(emulator.config(num_workers=8)))
    (workdir / "catalog.json").write_text(json.dumps(catalog("conversations", "messages", mode="incremental")))
    args = [str(CLI), "read", "--config", str(workdir / "config.json"), "--catalog", str(workdir / "catalog.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        args += ["--state", str(workdir / "state.json")]
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    records: Dict[str, List[int]] = {"conversations": [], "messages": []}
    last: Dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith('{"type":"RECORD"'):
            message = json.loads(line)["record"]
            records[message["stream"]].append(message["data"]["id"])
        elif line.startswith('{"type":"STATE"'):
            message = json.loads(line)["state"]
            last[message["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": message["stream"]}
    return {"exit": proc.returncode, "wall_s": round(time.perf_counter() - started, 1), "records": records,
            "state": list(last.values()) or state}


def existing_messages(emulator: Emulator) -> Dict[int, int]:
    """Every message that exists now: its id and its conversation's."""
    return {m["id"]: m["conversation_id"] for m in emulator.expected("messages")}


def soak_live(workdir: Path, conversations: int, syncs: int, live_every: int) -> List[Dict[str, Any]]:
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "12", "--live-every", str(live_every))
    rows: List[Dict[str, Any]] = []
    emitted: Counter = Counter()
    owed: Dict[int, int] = {}  # every message that existed when a sync started, with its conversation
    state = None
    try:
        for number in range(1, syncs + 1):
            owed.update(existing_messages(emulator))
            emulator.control("reset_stats", {})
            run = read(emulator, workdir, state)
            stats = emulator.control("stats")
            state = run["state"]
            emitted.update(run["records"]["messages"])
            deleted = set(emulator.control("expected?stream=conversations")["deleted"])
            # A message whose conversation was deleted since is owed no longer.
            lost = [m for m, conversation in owed.items() if m not in emitted and conversation not in deleted]
            row = {"sync": number, "exit": run["exit"], "wall_s": run["wall_s"], "requests": stats["requests"],
                   "list_requests": stats.get("requests /v2/conversations", 0),
                   "conversations": len(run["records"]["conversations"]), "messages": len(run["records"]["messages"]),
                   "live_changes": sum(v for k, v in stats.items() if k.startswith("live ")),
                   "messages_lost_so_far": len(lost),
                   "messages_duplicated_so_far": sum(n - 1 for n in emitted.values() if n > 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        emulator.stop()
    return rows


def soak_large(workdir: Path, conversations: int) -> Dict[str, Any]:
    emulator = Emulator("--conversations", str(conversations), "--max-messages", "4")
    try:
        full = read(emulator, workdir, None)
        expected_conversations = {c["id"] for c in emulator.expected("conversations")}
        expected_messages = set(existing_messages(emulator))
        emulator.control("add_messages", {"conversation_ids": [1, conversations // 2, conversations], "count": 1})
        emulator.control("reset_stats", {})
        incremental = read(emulator, workdir, full["state"])
        stats = emulator.control("stats")
    finally:
        emulator.stop()
    result = {"conversations": conversations, "full_exit": full["exit"], "full_wall_s": full["wall_s"],
              "full_conversations_missing": len(expected_conversations - set(full["records"]["conversations"])),
              "full_messages_missing": len(expected_messages - set(full["records"]["messages"])),
              "incremental_exit": incremental["exit"], "incremental_requests": stats["requests"],
              "incremental_messages_asked_for": len(stats["messages_asked_for"]),
              "incremental_messages": len(incremental["records"]["messages"])}
    print(json.dumps(result), flush=True)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["live", "large"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--live-every", type=int, default=40)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only in (None, "live"):
            soak_live(workdir, 2000 if args.quick else 20000, 3 if args.quick else 10, args.live_every)
        if args.only in (None, "large"):
            soak_large(workdir, 3000 if args.quick else 30000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
