"""SourcePartoo: the connector's declarative source, manifest.yaml with components.py."""

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
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

from source_partoo import components
from source_partoo import tuning

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")

# The manifest names its Python component as a manifest-only connector must
# (`source_declarative_manifest.components.<Class>`), which airbyte-cdk's generic runner registers from
# --components-path; the packaged connector registers the very same module under that name.
sys.modules.setdefault("source_declarative_manifest.components", components)


class SourcePartoo(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state, **kwargs)

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
