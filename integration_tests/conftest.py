"""Integration fixtures: the local Partoo emulator in a subprocess, and the installed `source-partoo`
CLI run as a subprocess against it, exactly as Airbyte runs the connector."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLI = Path(sys.executable).with_name("source-partoo")
SDM = Path(sys.executable).with_name("source-declarative-manifest")
MANIFEST = REPO / "source_partoo" / "manifest.yaml"
COMPONENTS = REPO / "source_partoo" / "components.py"
# The two ways Airbyte runs this connector outside the Builder: the package's program (the image, PyAirbyte),
# and airbyte-cdk's manifest-only runner with components.py beside the manifest (the platform's
# source-declarative-manifest image). Tests that prove a guarantee run through both.
RUNTIMES = ["package", "manifest-only"]
DEMO_KEY = "demo-key"

# `faketime -f '@2027-01-07 12:00:00' make test` starts every process's clock at that instant (libfaketime's
# start-at form), the emulator's seconds before each connector run's: Partoo's clock would then run ahead of
# the connector's. With this, the processes the tests start share the clock of the first process instead.
if os.environ.get("FAKETIME", "").startswith("@"):
    os.environ.setdefault("FAKETIME_DONT_RESET", "1")

# Variables that the processes the tests start (emulator, connector) get on top of this process's environment,
# None removing one (clock_at). Never set in os.environ: libfaketime re-reads FAKETIME from its own process's
# environment, so pytest's clock would move too when pytest itself runs under faketime.
CHILD_ENV: Dict[str, Optional[str]] = {}


def with_env(changes: Dict[str, Optional[str]], base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """`base` (else this process's environment) with `changes`, None removing a variable."""
    env = dict(os.environ if base is None else base)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def child_env(base: Optional[Dict[str, str]] = None) -> Optional[Dict[str, str]]:
    """The environment of a process a test starts: `base` (else this process's) with CHILD_ENV; None when
    it is this process's own, unchanged."""
    return None if base is None and not CHILD_ENV else with_env(CHILD_ENV, base)


class Emulator:
    """A running partoo_emulator: `url` is its /v2 base URL."""

    def __init__(self, *flags: str, port: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "partoo_emulator", "--port", str(port), *flags],
            cwd=REPO, stdout=subprocess.PIPE, text=True, env=child_env(),
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), "the emulator did not start"
        self.root = self.url[: -len("/v2")]

    def control(self, path: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.root}/_emulator/{path}", data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def expected(self, stream: str, business_ids: Optional[List[str]] = None, **query: str) -> List[Dict[str, Any]]:
        """The records the emulator holds for `stream`; `query`: since/until (analytics streams)."""
        from urllib.parse import urlencode

        params = dict({"stream": stream}, **query, **({"business__in": ",".join(business_ids)} if business_ids else {}))
        return self.control(f"expected?{urlencode(params)}")["records"]

    def config(self, **overrides: Any) -> Dict[str, Any]:
        # Analytics from 30 days back, not two years: a sync of every stream then asks 31 review windows, not
        # 731 (each window is a request, and 6,000 a minute is the spec's maximum rate).
        config = {"api_key": DEMO_KEY, "base_url": self.url, "requests_per_minute": 6000, "num_workers": 4,
                  "analytics_start_date": (children_now().date() - dt.timedelta(days=30)).isoformat()}
        config.update(overrides)
        return config

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _real_time() -> float:
    """The machine's clock, even when pytest itself runs under faketime."""
    if "faketime" not in os.environ.get("LD_PRELOAD", ""):
        return time.time()
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}
    return float(subprocess.run(["date", "+%s.%N"], env=env, capture_output=True, text=True, check=True).stdout)


@functools.lru_cache(maxsize=1)
def _faketime_preload() -> str:
    """The library faketime preloads, asked of faketime once per test process; asked again when faketime fails, as
    it did once in a make test on the loaded 2-core machine (exit 1, no LD_PRELOAD printed)."""
    for _ in range(3):
        asked = subprocess.run(["faketime", "-f", "+0", "printenv", "LD_PRELOAD"], capture_output=True, text=True)
        if asked.returncode == 0 and asked.stdout.strip():
            return asked.stdout.strip()
    asked.check_returncode()
    raise AssertionError(f"faketime printed no LD_PRELOAD: {asked.stderr[-500:]}")


def clock_env(moment: str, tz: str = "UTC") -> Dict[str, Optional[str]]:
    """The variables (for with_env) that start a process with its wall clock at a UTC moment now, moving on from
    there, in time zone `tz`: Debian's faketime (which `make test` installs) with an offset from the real clock,
    the same for every process so started, so that the emulator and the connector agree on now as Partoo and a
    synchronized machine do (faketime's start-at form would restart each process's clock at the moment)."""
    if shutil.which("faketime") is None:
        pytest.fail("this test runs the connector at a fixed date with Debian's faketime: `make faketime` installs it")
    at = dt.datetime.fromisoformat(moment).replace(tzinfo=dt.timezone.utc)
    return {"LD_PRELOAD": _faketime_preload(), "FAKETIME": f"{at.timestamp() - _real_time():+.6f}", "FAKETIME_SHARED": None,
            "FAKETIME_DONT_RESET": None, "TZ": tz}


def children_now() -> dt.datetime:
    """Now, on the clock of the processes the test starts (clock_at's, else this process's)."""
    offset = CHILD_ENV.get("FAKETIME")
    if offset is None:
        return dt.datetime.now(dt.timezone.utc)
    return dt.datetime.fromtimestamp(_real_time() + float(offset), dt.timezone.utc)


@pytest.fixture
def clock_at(monkeypatch: pytest.MonkeyPatch):
    """Every process the test starts afterwards (emulator, connector) runs at a UTC moment (clock_env):
    `at = clock_at("2026-12-31T23:59:57", tz="Europe/Paris")`. The test's own clock is left alone."""

    def set_at(moment: str, tz: str = "UTC") -> dt.datetime:
        for name, value in clock_env(moment, tz).items():
            monkeypatch.setitem(CHILD_ENV, name, value)
        return dt.datetime.fromisoformat(moment).replace(tzinfo=dt.timezone.utc)

    return set_at


@pytest.fixture
def emulator_factory() -> Iterator[Any]:
    started: List[Emulator] = []

    def start(*flags: str) -> Emulator:
        emulator = Emulator(*flags)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """A small organization: 120 conversations over 4 businesses, some with several pages of messages."""
    running = Emulator("--conversations", "120", "--businesses", "4", "--limited-key", "limited-key:0",
                       "--echo-key-in-errors")
    yield running
    running.stop()


class Server:
    """A loopback HTTP server answering every GET with `answer(path)`, recording each request's headers."""

    def __init__(self, answer) -> None:
        self.seen: List[Tuple[str, Dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append((self.path, dict(self.headers)))
                status, headers, body = answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class CliRun:
    def __init__(self, completed: subprocess.CompletedProcess) -> None:
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]

    def records(self, stream: str) -> List[Dict[str, Any]]:
        return [m["record"]["data"] for m in self.messages if m["type"] == "RECORD" and m["record"]["stream"] == stream]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def last_states(self) -> List[Dict[str, Any]]:
        """The last STATE of each stream, as the platform would pass them to the next sync."""
        last: Dict[str, Dict[str, Any]] = {}
        for m in self.of_type("STATE"):
            last[m["state"]["stream"]["stream_descriptor"]["name"]] = m["state"]
        return [{"type": "STREAM", "stream": s["stream"]} for s in last.values()]


ALL_STREAMS = ["conversations", "messages", "businesses", "reviews", "review_replies", "users", "group_sections",
               "groups", "organizations", "custom_fields"]


# #24: analytics (incremental on their day) and reports (full refresh).
ANALYTICS_STREAMS = ["review_metrics_daily", "presence_metrics_daily", "presence_keywords_monthly", "posts",
                     "publisher_states", "feedback_results", "feedback_forms", "message_templates"]
PRIMARY_KEYS = {"organizations": ["org_id"], "review_metrics_daily": ["business_id", "date"],
                "presence_metrics_daily": ["business_id", "date"],
                "presence_keywords_monthly": ["business_id", "keyword", "date"], "publisher_states": ["business_id", "publisher"]}


def catalog(*streams: str, mode: str = "full_refresh") -> Dict[str, Any]:
    cursor = {"conversations": ["last_activity_at"], "messages": ["date"], "businesses": ["modified"],
              "reviews": ["update_date_utc"], "review_replies": ["review_update_date_utc"],
              "review_metrics_daily": ["date"], "presence_metrics_daily": ["date"], "presence_keywords_monthly": ["date"]}
    return {"streams": [{
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"],
                   "source_defined_cursor": True, "default_cursor_field": cursor.get(name)},
        "sync_mode": mode if name in cursor else "full_refresh",
        "cursor_field": cursor[name] if mode == "incremental" and name in cursor else None,
        "destination_sync_mode": "append_dedup" if mode == "incremental" and name in cursor else "overwrite",
        "primary_key": [[field] for field in PRIMARY_KEYS.get(name, ["id"])],
    } for name in streams]}


def run_connector(runtime: str, workdir: Path, command: str, config: Optional[Dict[str, Any]] = None, *,
                  catalog: Optional[Dict[str, Any]] = None, state: Optional[List[Dict[str, Any]]] = None,
                  timeout: float = 240) -> CliRun:
    """Run the connector as `runtime` runs it: "package" (`source-partoo`) or "manifest-only"
    (`source-declarative-manifest` with the manifest and components.py, in an interpreter that cannot import
    the packaged connector)."""
    env = child_env()
    if runtime == "package":
        args = [str(CLI), command]
    else:
        args = [str(SDM), command, "--manifest-path", str(MANIFEST), "--components-path", str(COMPONENTS)]
        env = child_env({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert env is not None
        env.update(AIRBYTE_ENABLE_UNSAFE_CODE="true", PYTHONNOUSERSITE="1")
    for name, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            path = workdir / f"{name}.json"
            path.write_text(json.dumps(value))
            args += [f"--{name}", str(path)]
    completed = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=workdir, env=env)
    return CliRun(completed)


@pytest.fixture
def cli(tmp_path: Path):
    """Run the installed `source-partoo` executable: cli("read", config, catalog=..., state=...)."""

    def invoke(command: str, config: Optional[Dict[str, Any]] = None, **kwargs: Any) -> CliRun:
        return run_connector("package", tmp_path, command, config, **kwargs)

    return invoke


@pytest.fixture(params=RUNTIMES)
def connector(request: Any, tmp_path: Path):
    """Like `cli`, once per runtime: connector("read", config, catalog=..., state=...); connector.runtime."""

    def invoke(command: str, config: Optional[Dict[str, Any]] = None, **kwargs: Any) -> CliRun:
        return run_connector(request.param, tmp_path, command, config, **kwargs)

    invoke.runtime = request.param  # type: ignore[attr-defined]
    return invoke


def as_loaded(record: Dict[str, Any]) -> Dict[str, Any]:
    """What a destination loads: airbyte-cdk drops top-level nulls, which a warehouse reads as null anyway."""
    return {k: v for k, v in record.items() if v is not None}
