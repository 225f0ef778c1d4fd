"""SourcePartoo: the declarative manifest, plus config checks whose messages a person can act on."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Iterator, List, Mapping, Optional

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    Status,
)
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.utils.yaml_loader import safe_load_yaml

from source_partoo import components
from source_partoo import tuning

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")

# The manifest names its Python component as a manifest-only connector must
# (`source_declarative_manifest.components.<Class>`), which airbyte-cdk's generic runner registers from
# --components-path; the packaged connector registers the very same module under that name.
sys.modules.setdefault("source_declarative_manifest.components", components)


def resolved_manifest() -> Mapping[str, Any]:
    """manifest.yaml with its references resolved (saved_state.py reads the streams' cursors from it), read
    as airbyte-cdk reads it (libyaml when PyYAML has it: 15 ms, against 100 ms with yaml.safe_load, on
    every run given a state)."""
    return ManifestReferenceResolver().preprocess_manifest(safe_load_yaml(MANIFEST_PATH.read_text()))


class SourcePartoo(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state, **kwargs)
        self._checked_state = state

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        """The manifest's read, with this sync's plan for the conversation list (components.list_plan):
        which selected streams read it, and where it may stop. Only here are the catalog and the saved
        state of both streams known together; the components get the plan through the config."""
        states = ConnectorStateManager(state or [])
        modes = {s.stream.name: s.sync_mode.value for s in catalog.streams}
        self._config = {
            **self._config,
            components.PLAN_KEY: components.list_plan(
                self._config,
                modes,
                states.get_stream_state("conversations", None),
                states.get_stream_state("messages", None),
            ),
        }
        yield from super().read(logger, config, catalog, state)

    def streams(self, config: Mapping[str, Any]) -> List[Any]:  # type: ignore[override]
        streams = super().streams(config)
        # Bounds on airbyte-cdk's bookkeeping that the manifest has no field for (tuning.py).
        tuning.apply(self, streams)
        plan = self._config.get(components.PLAN_KEY)
        if plan and len(plan["readers"]) == 2:
            # One read of the conversation list for both streams (components.SharedListPages): airbyte-cdk
            # builds the messages' parent stream apart from the conversations stream.
            components.share_list_reads(streams)
        return streams

    def read_state(self, state_path: str) -> List[AirbyteStateMessage]:  # type: ignore[override]
        """The state this source was built with, as run.py checked it (saved_state.py), not the file's raw
        content: airbyte-cdk's entrypoint reads the file again and would fail on the legacy format."""
        if self._checked_state is not None:
            return list(self._checked_state)
        return super().read_state(state_path)
