"""What manifest.yaml cannot say, or cannot say fast enough.

1. NonRepeatingCursorPagination refuses a pagination cursor that would make the stream loop.

A CursorPagination stop_condition sees only the current response, never the cursors that came before,
and airbyte-cdk shares one pagination strategy between all partitions and threads of a stream (so no
history may live on the instance). The history therefore travels inside the page token itself: a str
that remembers the cursors of the pages before it, handed back to us as `last_page_token_value`.

2. AddLastActivity adds each conversation's incremental cursor. An AddFields template says the same, but
airbyte-cdk renders it per record through Jinja and ast.literal_eval: in bench/run.py's cpu figure
(20,000 conversations) that template cost about a third of the connector's CPU (12.9 s against 9 s with
this class), which kept it below the performance target; this is one dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Optional

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.cursor_pagination_strategy import (
    CursorPaginationStrategy,
)
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, Record, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


class _Cursor(str):
    """A cursor exactly as the API sent it (it is sent back unchanged), plus the cursors before it."""

    seen: FrozenSet[str]

    def __new__(cls, value: str, seen: FrozenSet[str]) -> "_Cursor":
        cursor = super().__new__(cls, value)
        cursor.seen = seen
        return cursor

    def __getnewargs__(self) -> tuple:  # airbyte-cdk deep-copies request parameters
        return (str(self), self.seen)


@dataclass
class NonRepeatingCursorPagination(CursorPaginationStrategy):
    """Partoo's cursor pagination (as declared in the manifest), failing the stream instead of looping
    when the API returns a cursor it already returned in this partition, or an empty page that still
    carries a cursor."""

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        token = super().next_page_token(
            response,
            last_page_size,
            last_record,
            last_page_token_value,
            page_size_override=page_size_override,
            stream_slice=stream_slice,
        )
        if token is None:
            return None
        token = str(token)
        seen: FrozenSet[str] = frozenset()
        if last_page_token_value is not None:
            seen = getattr(last_page_token_value, "seen", frozenset()) | {str(last_page_token_value)}
        partition = dict(stream_slice.partition) if stream_slice else {}
        where = f"{response.request.method} {response.request.path_url.split('?')[0]}" + (
            f", {partition}" if partition else ""
        )
        if token in seen:
            raise AirbyteTracedException(
                message=(
                    f"Partoo returned a pagination cursor it had already returned ({where}); the sync stopped "
                    "instead of reading the same "
                    "pages forever. Retry later, and report it to Partoo support if it persists."
                ),
                internal_message=f"repeated next_cursor after {len(seen)} pages",
                failure_type=FailureType.system_error,
            )
        if last_page_size == 0:
            raise AirbyteTracedException(
                message=(
                    f"Partoo returned an empty page that still carries a next cursor ({where}); the sync stopped "
                    "instead of following "
                    "cursors that bring no records. Retry later, and report it to Partoo support if it persists."
                ),
                internal_message="empty page with a non-null next_cursor",
                failure_type=FailureType.system_error,
            )
        return _Cursor(token, seen)


@dataclass
class AddLastActivity(RecordTransformation):
    """last_activity_at: the date of the conversation's last message, else its creation date."""

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        last_message = record.get("last_message")
        date = last_message.get("date") if isinstance(last_message, dict) else None
        record["last_activity_at"] = date or record.get("created_at")
