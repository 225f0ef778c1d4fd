"""The connector as the main job hands it to PyAirbyte: `python relay.py ERRORS_FILE CONNECTOR ARGS...` runs
`CONNECTOR ARGS...` and passes its output through, but for its error traces. Each of those is appended whole
to ERRORS_FILE (one JSON line) and passed on as a LOG message of the same text, so that PyAirbyte keeps it
in the connector's log file and the job prints each sentence once at the end (sync.py).

Why: PyAirbyte 0.71.3 prints every error trace to the console as it arrives ("ERROR: ...", wrapped to the
terminal's width), the same sentence once per failed stream, then airbyte-cdk's closing summary with the
HTTP request and response, and has no setting to keep them off the console. The relay only uses what
PyAirbyte documents (`local_executable` runs any program that speaks the Airbyte protocol) and the
protocol itself; PyAirbyte's objects are left as they are.

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
from typing import Any, Dict, List, Optional


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


def as_log(error: Dict[str, Any]) -> bytes:
    """The LOG message that stands for an error trace in PyAirbyte's log: its message, then its details."""
    parts = [error.get("message"), error.get("internal_message"), error.get("stack_trace")]
    text = "\n".join(str(part).rstrip() for part in parts if part)
    log = {"type": "LOG", "log": {"level": "ERROR", "message": text or "The connector failed without a message."}}
    return json.dumps(log).encode() + b"\n"


def main(argv: List[str]) -> int:
    errors_file, command = argv[0], argv[1:]
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


if __name__ == "__main__":
    code = main(sys.argv[1:])
    if code < 0:  # ended by a signal: end by the same one, as PyAirbyte expects of the connector
        signal.signal(-code, signal.SIG_DFL)
        signal.raise_signal(-code)
    sys.exit(code)
