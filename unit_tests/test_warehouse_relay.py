"""warehouse/relay.py, the program the main job hands PyAirbyte as the connector: the connector's output
passes through but for its error traces, kept for the job to print once and logged by PyAirbyte as LOG
messages. (integration_tests/test_sync_failures.py runs the whole job.)"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

RELAY = Path(__file__).resolve().parent.parent / "warehouse" / "relay.py"

RECORD = {"type": "RECORD", "record": {"stream": "conversations", "data": {"id": 1}, "emitted_at": 1}}
ERROR = {"message": "Set start_date to a date.", "internal_message": "bad date", "failure_type": "config_error",
         "stack_trace": "Traceback: ...", "stream_descriptor": {"name": "messages"}}
TRACE = {"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 2, "error": ERROR}}
OTHER_TRACE = {"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": 3}}


def fake_connector(*lines: str, exit_code: int = 1) -> list:
    script = "import sys\n" + "".join(f"print({line!r})\n" for line in lines) + f"sys.exit({exit_code})\n"
    return [sys.executable, "-c", script]


def test_error_traces_are_kept_and_logged_everything_else_passes_through(tmp_path):
    errors = tmp_path / "errors.jsonl"
    lines = [json.dumps(RECORD), "not json {", json.dumps(TRACE), json.dumps(OTHER_TRACE)]
    run = subprocess.run([sys.executable, str(RELAY), str(errors), *fake_connector(*lines)],
                         capture_output=True, timeout=60)
    assert run.returncode == 1  # the connector's own exit code
    out = run.stdout.decode().splitlines()
    assert [out[0], out[1], out[3]] == [lines[0], lines[1], lines[3]]
    assert json.loads(out[2]) == {"type": "LOG", "log": {"level": "ERROR",
                                                         "message": "Set start_date to a date.\nbad date\nTraceback: ..."}}
    assert [json.loads(line) for line in errors.read_text().splitlines()] == [ERROR]


def test_a_terminated_relay_ends_the_connector_and_ends_as_terminated(tmp_path):
    # PyAirbyte ends a connector it stops reading with SIGTERM and takes exit code -15 as a normal end.
    pid_file = tmp_path / "pid"
    script = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\nprint('{{}}', flush=True)\ntime.sleep(60)\n"
    relay = subprocess.Popen([sys.executable, str(RELAY), str(tmp_path / "errors.jsonl"), sys.executable, "-c", script],
                             stdout=subprocess.PIPE)
    assert relay.stdout.readline() == b"{}\n"
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(timeout=30) == -signal.SIGTERM
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() < deadline, "the connector outlived the relay"
        time.sleep(0.05)


def test_a_connector_ended_by_sigterm_leaves_none_of_its_temporary_files(tmp_path):
    # airbyte-cdk keeps a copy of the config, API key included, in a temporary folder it removes only on a normal
    # exit: the relay gives the connector a temporary folder of its own and removes it however it ended.
    written = tmp_path / "written"
    script = ("import os, tempfile, time\nfolder = tempfile.mkdtemp()\nopen(os.path.join(folder, 'config.json'), 'w')"
              f".write('secret')\nopen({str(written)!r}, 'w').write(folder)\nprint('{{}}', flush=True)\ntime.sleep(60)\n")
    relay = subprocess.Popen([sys.executable, str(RELAY), str(tmp_path / "errors.jsonl"), sys.executable, "-c", script],
                             stdout=subprocess.PIPE)
    assert relay.stdout.readline() == b"{}\n"
    folder = Path(written.read_text())
    assert (folder / "config.json").exists() and "partoo-connector-" in str(folder.parent)
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(timeout=30) == -signal.SIGTERM
    assert not folder.parent.exists()
