"""Console entry point `source-partoo` (and `python main.py`)."""

from __future__ import annotations

import json
import sys
from typing import List, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_partoo.source import SourcePartoo, config_problem


def _fail(message: str) -> None:
    """Print one config_error trace (no stack trace: the user can fix this) and exit non-zero."""
    trace = AirbyteTracedException(message=message, failure_type=FailureType.config_error)
    print(AirbyteEntrypoint.airbyte_message_to_string(trace.as_airbyte_message()))
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
        state = SourcePartoo.read_state(parsed.state)
    source = SourcePartoo(catalog=catalog, config=config, state=state, config_path=config_path)
    launch(source, args)


if __name__ == "__main__":
    run()
