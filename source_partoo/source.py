"""SourcePartoo: the connector's declarative source, manifest.yaml with components.py, as a packaged low-code
connector is. Nothing here changes what a sync does: source-declarative-manifest runs the same two files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

from source_partoo import components

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")

# The manifest names its Python components as a manifest-only connector must
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
