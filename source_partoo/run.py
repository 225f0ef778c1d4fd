"""Console entry point `source-partoo` (and `python main.py`): airbyte-cdk's launch on the manifest's source,
as airbyte-cdk's connector template writes it. Everything the connector does is in manifest.yaml and
components.py, so this program and the manifest-only runner (source-declarative-manifest) behave the same."""

from __future__ import annotations

import sys
import time
import traceback
from typing import List, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteTraceMessage,
    FailureType,
    TraceType,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

from source_partoo.source import SourcePartoo


def _fail(message: str, failure_type: FailureType, stack_trace: Optional[str] = None) -> None:
    """One error trace, masked by airbyte-cdk's secret filter, then exit 1."""
    error = AirbyteErrorTraceMessage(message=message, failure_type=failure_type, stack_trace=stack_trace)
    trace = AirbyteTraceMessage(type=TraceType.ERROR, emitted_at=time.time() * 1000, error=error)
    print(filter_secrets(orjson.dumps(AirbyteMessageSerializer.dump(AirbyteMessage(type=Type.TRACE, trace=trace))).decode()))
    sys.exit(1)


def _source(args: List[str]) -> SourcePartoo:
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    try:
        config = SourcePartoo.read_config(config_path) if config_path else None
        catalog = SourcePartoo.read_catalog(catalog_path) if catalog_path else None
        state = SourcePartoo.read_state(state_path) if state_path else None
        return SourcePartoo(catalog=catalog, config=config, state=state, config_path=config_path)
    except Exception as error:  # noqa: BLE001 - the same answer as airbyte-cdk's source-declarative-manifest
        _fail(
            "Error starting the sync. This could be due to an invalid configuration or catalog. Please contact "
            f"Support for assistance. Error: {error}",
            FailureType.system_error,
            traceback.format_exc(),
        )
    raise AssertionError("unreachable")


def run(args: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if args is None else args
    launch(_source(args), args)


if __name__ == "__main__":
    run()
