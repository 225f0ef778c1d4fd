"""SourcePartoo: the declarative manifest, plus config checks whose messages a person can act on."""

from __future__ import annotations

import ast
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any, List, Mapping, Optional
from urllib.parse import urlsplit

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    Status,
)
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.utils.yaml_loader import safe_load_yaml

from source_partoo import components

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

    def read_state(self, state_path: str) -> List[AirbyteStateMessage]:  # type: ignore[override]
        """The state this source was built with, as run.py checked it (saved_state.py), not the file's raw
        content: airbyte-cdk's entrypoint reads the file again and would fail on the legacy format."""
        if self._checked_state is not None:
            return list(self._checked_state)
        return super().read_state(state_path)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """The manifest's check, with its failure message as the one sentence the manifest wrote.

        airbyte-cdk's CheckStream reports `repr("Stream conversations is not available: <message>")`;
        the quotes and the prefix only get in the way of the sentence that says what to do.
        """
        status = super().check(logger, config)
        if status.status == Status.FAILED and status.message:
            message = status.message
            try:
                message = ast.literal_eval(message) if message[:1] in "'\"" else message
            except (ValueError, SyntaxError):
                pass
            status.message = str(message).split(" is not available: ", 1)[-1]
        elif status.status == Status.SUCCEEDED:
            # The verdict stays the conversations stream's; this says which other streams the key can read
            # (one request of one record per endpoint; a 403 only skips that stream in a sync).
            status.message = components.readable_streams(config, logger)
        return status

    def _warn_on_unknown_override_keys(self, config_overrides: Mapping[str, Any]) -> None:
        # The check's overrides (_partoo_page_size, _partoo_connect_retries) are read by the manifest's own
        # templates; airbyte-cdk would warn that they "will have no effect", which is not true here.
        pass


# The manifest's spec says what is valid, but airbyte-cdk reports a violation with jsonschema's own words
# ("'x' does not match '^(https://...'"), which tell a user neither what is wrong nor what to do, and can
# quote the offending value. Each rule here is one sentence saying what to fix.
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}  # the hosts the spec's base_url pattern allows over http


def _positive_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def config_problem(config: Mapping[str, Any]) -> Optional[str]:
    """The first thing wrong with `config`, as one sentence saying what to fix, or None."""
    if not isinstance(config, Mapping):
        return "The config must be a JSON object with at least an api_key; see the connector's spec."
    api_key = config.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip():
        return "Set api_key to your Partoo API key: it is missing or empty."
    environment = config.get("environment")
    if environment not in (None, "production", "sandbox"):
        return "Set environment to production or sandbox (the server your API key belongs to)."
    base_url = config.get("base_url")
    if base_url not in (None, ""):
        parts = urlsplit(base_url) if isinstance(base_url, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or " " in base_url:
            return (
                "Set base_url to a URL such as https://api.partoo.co/v2, or leave it empty to use the "
                "environment's server."
            )
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
            return (
                f"base_url must use https:// for {parts.hostname}: plain http:// is only allowed for "
                "localhost, 127.0.0.1 or [::1]."
            )
    business_ids = config.get("business_ids")
    if business_ids is not None and (
        not isinstance(business_ids, list) or not all(isinstance(b, str) and b.strip() for b in business_ids)
    ):
        return (
            'Set business_ids to a list of Partoo business ids (strings), such as ["5409c35a97bbc544d8e26737"], '
            "or leave it empty to read every business."
        )
    start_date = config.get("start_date")
    if start_date not in (None, ""):
        if not isinstance(start_date, str) or _parse_start_date(start_date) is None:
            return (
                "Set start_date to a date (2024-01-31) or a date-time (2024-01-31T00:00:00Z), or leave it "
                "empty to load everything."
            )
    rpm = config.get("requests_per_minute")
    if rpm is not None and not _positive_int(rpm, 1, 6000):
        return (
            "Set requests_per_minute to a whole number from 1 to 6000 (Partoo allows 300 a minute per "
            "organization unless it raised your limit)."
        )
    hours = config.get("full_list_every_hours")
    if hours is not None and not _positive_int(hours, 0, 720):
        return (
            "Set full_list_every_hours to a whole number of hours from 0 to 720 (how often a sync reads the "
            "whole conversation list; 0 reads it whole on every sync)."
        )
    workers = config.get("num_workers")
    if workers is not None and not _positive_int(workers, 1, 16):
        return "Set num_workers to a whole number from 1 to 16 (the number of requests in flight at once)."
    return None


def _parse_start_date(value: str) -> Optional[dt.datetime]:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed
