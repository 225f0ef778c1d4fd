"""Console entry point `source-partoo` (and `python main.py`)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    FailureType,
    Level,
    TraceType,
    Type,
)

from source_partoo.saved_state import StateError, check_state, load_state_file
from source_partoo.source import SourcePartoo, config_problem, resolved_manifest


def _fail(message: str) -> None:
    """Print one config_error trace (no stack trace: the user can fix this) and exit non-zero."""
    error = AirbyteErrorTraceMessage(message=message, failure_type=FailureType.config_error)
    trace = AirbyteTraceMessage(type=TraceType.ERROR, emitted_at=time.time() * 1000, error=error)
    print(AirbyteEntrypoint.airbyte_message_to_string(AirbyteMessage(type=Type.TRACE, trace=trace)))
    sys.exit(1)


def run(args: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if args is None else args
    parsed = AirbyteEntrypoint.parse_args(args)
    config = catalog = state = None
    config_path = getattr(parsed, "config", None)
    if config_path:
        try:
            config = SourcePartoo.read_config(config_path)
        except (OSError, ValueError) as error:
            _fail(f"Could not read the config file {config_path} ({type(error).__name__}): pass a JSON file.")
        problem = config_problem(config)
        if problem:
            _fail(problem)
    if getattr(parsed, "catalog", None):
        catalog = SourcePartoo.read_catalog(parsed.catalog)
    if getattr(parsed, "state", None):
        try:
            raw_state = load_state_file(parsed.state)
        except (OSError, ValueError) as error:
            _fail(f"Could not read the state file {parsed.state} ({type(error).__name__}): pass a JSON file.")
        try:
            state, warnings = check_state(raw_state, resolved_manifest())
        except StateError as error:
            _fail(str(error))
        for warning in warnings:
            log = AirbyteLogMessage(level=Level.WARN, message=warning)
            print(filter_secrets(AirbyteEntrypoint.airbyte_message_to_string(AirbyteMessage(type=Type.LOG, log=log))))
    source = SourcePartoo(catalog=catalog, config=config, state=state, config_path=config_path)
    _launch(source, parsed)


def _launch(source: SourcePartoo, parsed: "argparse.Namespace") -> None:
    """airbyte_cdk.entrypoint.launch, with every line passed through the CDK's own secret filter.

    airbyte-cdk 7.39.1 masks secrets in log lines, but emits a stream's error trace unmasked: a server
    that echoes the API key in an error body would put it in the output. The key (airbyte_secret in the
    spec) was registered with the filter when the entrypoint read the config.
    """
    entrypoint = AirbyteEntrypoint(source)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed):
            print(f"{filter_secrets(message)}\n", end="")


if __name__ == "__main__":
    run()
