"""The one thing manifest.yaml cannot say: refuse a pagination cursor that would make the stream loop.

A CursorPagination stop_condition sees only the current response, never the cursors that came before,
and airbyte-cdk shares one pagination strategy between all partitions and threads of a stream (so no
history may live on the instance). The history therefore travels inside the page token itself: a str
that remembers the cursors of the pages before it, handed back to us as `last_page_token_value`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, FrozenSet, Optional

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.cursor_pagination_strategy import (
    CursorPaginationStrategy,
)
from airbyte_cdk.sources.types import Record, StreamSlice
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
        where = f"{response.request.method} {response.request.path_url.split('?')[0]}"
        partition = dict(stream_slice.partition) if stream_slice else {}
        if token in seen:
            raise AirbyteTracedException(
                message=(
                    f"Partoo returned a pagination cursor it had already returned ({where}"
                    f"{', ' + str(partition) if partition else ''}); the sync stopped instead of reading the same "
                    "pages forever. Retry later, and report it to Partoo support if it persists."
                ),
                internal_message=f"repeated next_cursor after {len(seen)} pages",
                failure_type=FailureType.system_error,
            )
        if last_page_size == 0:
            raise AirbyteTracedException(
                message=(
                    f"Partoo returned an empty page that still carries a next cursor ({where}"
                    f"{', ' + str(partition) if partition else ''}); the sync stopped instead of following "
                    "cursors that bring no records. Retry later, and report it to Partoo support if it persists."
                ),
                internal_message="empty page with a non-null next_cursor",
                failure_type=FailureType.system_error,
            )
        return _Cursor(token, seen)
