"""The connector as the main job hands it to PyAirbyte: `python relay.py [--count-requests FILE] ERRORS_FILE
CONNECTOR ARGS...` runs `CONNECTOR ARGS...` and passes its output through, but for its error traces. Each of
those is appended whole to ERRORS_FILE (one JSON line) and passed on as a LOG message of the same text, so
that PyAirbyte keeps it in the connector's log file and the job prints each sentence once at the end (sync.py).

Why: PyAirbyte 0.71.3 prints every error trace to the console as it arrives ("ERROR: ...", wrapped to the
terminal's width), the same sentence once per failed stream, then airbyte-cdk's closing summary with the
HTTP request and response, and has no setting to keep them off the console. The relay only uses what
PyAirbyte documents (`local_executable` runs any program that speaks the Airbyte protocol) and the
protocol itself; PyAirbyte's objects are left as they are.

With --count-requests, a `read` also counts the HTTP requests the connector sends, for the job's summary.
airbyte-cdk 7.39.1 logs each attempt of each request (retries included), just before it sends it, as one line
of its debug log (`HttpClient._send`: "Making outbound API request", at DEBUG level), which it prints only
when run with --debug, as a line of its own that is not an Airbyte message: `{"type": "DEBUG", "message":
"Making outbound API request", "data": {"url": ..., "headers": ...}}`. The relay runs the read (CONNECTOR is
one program, whose first argument is the command) with --debug, counts those lines, and passes none of what
--debug adds on to PyAirbyte: the debug lines (every response body among them) and the `slice:` LOG messages
airbyte-cdk emits in debug mode only. PyAirbyte then gets the same messages as without it. (The manifest keeps
airbyte-cdk's HTTP cache off, so every request logged reaches the server: the local emulator's counts agree,
unit_tests/test_warehouse_streams.py.) When the read printed no debug line at all (an airbyte-cdk that logs
otherwise), the count is recorded as unknown, never as 0. Each run appends one JSON line to FILE: {"command":
"read", "requests": N} ("requests": null when unknown).

What --debug costs: airbyte-cdk also logs every response body, so a read of every stream of the emulator at
3,000 conversations printed 78 MB instead of 33 MB for the relay to read; the connector's CPU, 40.3 and 47.6 s
against 40.6 and 43.0 s without (two runs each, 2026-12-06, connector at 37909e5, on 2 cores shared with other
work), moved within the run-to-run noise. The count it gave, 4,029, was the emulator's own.

Standard library only: it runs as a script, with the job's interpreter, on every line the connector prints.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Union


def error_of(line: bytes) -> Optional[Dict[str, Any]]:
    """The error of an error trace line, else None (any other message, or a line that is not JSON)."""
    if b'"TRACE"' not in line[:40]:  # airbyte-cdk writes {"type":"TRACE","trace":{"type":"ERROR",...
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    trace = message.get("trace") if isinstance(message, dict) and message.get("type") == "TRACE" else None
    if not isinstance(trace, dict) or trace.get("type") != "ERROR" or not isinstance(trace.get("error"), dict):
        return None
    return trace["error"]


# airbyte-cdk 7.39.1's debug lines (logger.py, AirbyteLogFormatter: json.dumps of type, message, data) and the
# one its HttpClient writes before sending each request; the LOG messages it adds in debug mode (SliceLogger).
DEBUG_LINE = b'{"type": "DEBUG", '
REQUEST_LINE = b'{"type": "DEBUG", "message": "Making outbound API request"'
SLICE_LINE = b'{"type":"LOG","log":{"level":"INFO","message":"slice:'


def is_request(line: Union[bytes, str]) -> bool:
    """Whether the line (of a connector run with --debug) is airbyte-cdk's debug line for a request it sends."""
    return line.startswith(REQUEST_LINE) if isinstance(line, bytes) else line.startswith(REQUEST_LINE.decode())


def as_log(error: Dict[str, Any]) -> bytes:
    """The LOG message that stands for an error trace in PyAirbyte's log: its message, then its details."""
    parts = [error.get("message"), error.get("internal_message"), error.get("stack_trace")]
    text = "\n".join(str(part).rstrip() for part in parts if part)
    log = {"type": "LOG", "log": {"level": "ERROR", "message": text or "The connector failed without a message."}}
    return json.dumps(log).encode() + b"\n"


def main(argv: List[str]) -> int:
    requests_file = None
    if argv[:1] == ["--count-requests"]:
        requests_file, argv = argv[1], argv[2:]
    errors_file, command = argv[0], argv[1:]
    counting = requests_file is not None and command[1:2] == ["read"]
    if counting:  # --debug right after the command, as airbyte-cdk's parser takes it
        command = [command[0], "read", "--debug", *command[2:]]
    requests, debug_lines = 0, 0
    # airbyte-cdk writes the config, API key included, to config.json in a temporary folder, which it removes
    # only when it exits normally, not when it is ended by a signal: its temporary files go to a folder of
    # the relay's own, removed whatever way the connector ended.
    private = tempfile.mkdtemp(prefix="partoo-connector-")
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, "TMPDIR": private})
        # PyAirbyte ends a connector it no longer reads with SIGTERM: pass it on, then end as the connector did.
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        out = sys.stdout.buffer
        assert child.stdout is not None
        with open(errors_file, "ab") as kept:
            for line in child.stdout:
                if counting and line.startswith(DEBUG_LINE):
                    debug_lines += 1
                    requests += is_request(line)
                    continue
                if counting and line.startswith(SLICE_LINE):
                    continue
                error = error_of(line)
                if error is not None:
                    kept.write(json.dumps(error).encode() + b"\n")
                    kept.flush()
                    line = as_log(error)
                out.write(line)
                out.flush()
        return child.wait()
    finally:
        shutil.rmtree(private, ignore_errors=True)
        if counting:
            with open(requests_file, "a") as counts:
                counts.write(json.dumps({"command": "read", "requests": requests if debug_lines else None}) + "\n")


if __name__ == "__main__":
    code = main(sys.argv[1:])
    if code < 0:  # ended by a signal: end by the same one, as PyAirbyte expects of the connector
        signal.signal(-code, signal.SIG_DFL)
        signal.raise_signal(-code)
    sys.exit(code)
