"""The saved state handed to `read`, checked before any request.

Airbyte users edit a connection's state, copy it between connections, and upgrade the connector under it;
old platforms send the legacy format. airbyte-cdk fails on a state it cannot parse with "Something went
wrong in the connector" (or no message at all for the legacy format), and a state in the future makes
every sync silently load nothing. The manifest's state migrations run per stream once the streams are
built and cannot stop the sync with a sentence before any request, nor warn; so this module decides, per
stream, for every incremental stream that the manifest declares:

- a state of a released version (0.1.0 to 0.1.2 wrote the same shapes: see unit_tests/test_saved_state.py)
  is used as it is;
- the legacy format (one JSON object keyed by stream name, or LEGACY messages with `data`) is read as
  per-stream states;
- a date that is not in the connector's own format but is unambiguous (an ISO date or date-time; UTC
  when it has no offset) is rewritten in that format, with a warning;
- a state without the stream's cursor (say `{"foo": "bar"}`) reads the stream from start_date, with a
  warning: re-reading loses nothing;
- a cursor value that is not a date cannot be read safely (it may be a position someone meant): the sync
  stops before any request with one config_error sentence naming the stream and the value;
- a position later than now logs a warning naming the stream on every sync.
"""

import datetime as dt
import json
from copy import deepcopy
from typing import Any, Dict, List, Mapping, Optional, Tuple

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateMessageSerializer
from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser

from source_partoo.components import ORDER_KEY

# The format the cursors write (manifest.yaml: definitions.state_datetime_format).
STATE_FORMAT = "%Y-%m-%d %H:%M:%S.%f%z"
# The keys airbyte-cdk's per-partition cursor writes for a substream (messages); all else is unknown.
SUBSTREAM_KEYS = {"use_global_cursor", "state", "states", "lookback_window", "parent_state"}


class StateError(Exception):
    """A saved state the connector cannot use: str(error) is the sentence for the user."""


def incremental_streams(manifest: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """From the resolved manifest: each incremental stream's cursor field and, for a substream whose
    parent's state is saved with it, the parent's name and cursor field."""
    found: Dict[str, Dict[str, Any]] = {}
    for stream in manifest.get("streams", []):
        incremental = stream.get("incremental_sync") or {}
        if not incremental.get("cursor_field"):
            continue
        info: Dict[str, Any] = {"cursor": incremental["cursor_field"], "parent": None, "formats": _formats(incremental)}
        router = (stream.get("retriever") or {}).get("partition_router") or {}
        inner = router.get("conversations") or router  # ConversationsByLastActivity wraps the substream router
        for parent in inner.get("parent_stream_configs") or []:
            if parent.get("incremental_dependency"):
                parent_stream = parent["stream"]
                info["parent"] = (parent_stream["name"], parent_stream["incremental_sync"]["cursor_field"])
                info["parent_formats"] = _formats(parent_stream["incremental_sync"])
        found[stream["name"]] = info
    return found


def _formats(incremental: Mapping[str, Any]) -> List[str]:
    """The formats a cursor's saved value may have: the one it writes first, then those it reads."""
    written = incremental.get("datetime_format") or STATE_FORMAT
    return [written] + [f for f in incremental.get("cursor_datetime_formats") or [] if f != written]


def load_state_file(path: str) -> Any:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def check_state(raw: Any, manifest: Mapping[str, Any],
                now: Optional[dt.datetime] = None) -> Tuple[List[AirbyteStateMessage], List[str]]:
    """The state as airbyte-cdk should get it, and the warnings to log; StateError when it cannot be used."""
    now = now or dt.datetime.now(dt.timezone.utc)
    streams = incremental_streams(manifest)
    warnings: List[str] = []
    if raw in (None, [], {}):
        return [], warnings
    if isinstance(raw, dict):
        raw = _from_legacy(raw, streams, warnings)
    elif isinstance(raw, list) and any(isinstance(m, dict) and m.get("type") == "LEGACY" for m in raw):
        legacy = {}
        for message in raw:
            if isinstance(message, dict) and message.get("type") == "LEGACY":
                legacy.update(message.get("data") or {})
        raw = [m for m in raw if not (isinstance(m, dict) and m.get("type") == "LEGACY")]
        raw += _from_legacy(legacy, streams, warnings)
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise StateError(
            "The saved state is not a list of Airbyte state messages: reset the connection's state in Airbyte "
            "(its next sync then reads everything since start_date)."
        )
    messages: List[AirbyteStateMessage] = []
    for message in raw:
        stream = (message.get("stream") or {}) if message.get("type", "STREAM") == "STREAM" else {}
        name = (stream.get("stream_descriptor") or {}).get("name")
        if name in streams:
            state = stream.get("stream_state")
            fixed = _check_stream_state(name, state, streams[name], now, warnings)
            if fixed is None:
                continue
            message = deepcopy(message)
            message["stream"]["stream_state"] = fixed
        try:
            messages.append(AirbyteStateMessageSerializer.load(message))
        except Exception:  # the platform's own message shapes; airbyte-cdk validates them as before
            raise StateError(
                f"The saved state message {json.dumps(message)[:200]} is not an Airbyte state message: reset the "
                "connection's state in Airbyte (its next sync then reads everything since start_date)."
            ) from None
    return messages, warnings


def _from_legacy(legacy: Mapping[str, Any], streams: Mapping[str, Any], warnings: List[str]) -> List[Dict[str, Any]]:
    """The legacy state ({"conversations": {...}, "messages": {...}}) as per-stream state messages."""
    unknown = [key for key in legacy if key not in streams]
    if unknown and not any(key in streams for key in legacy):
        raise StateError(
            f"The saved state is in the legacy format but names no stream of this connector ({', '.join(map(str, unknown))}): "
            "reset the connection's state in Airbyte (its next sync then reads everything since start_date)."
        )
    warnings.append("The saved state is in Airbyte's legacy format: it is read as per-stream states.")
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": state}}
            for name, state in legacy.items() if name in streams]


def _check_stream_state(name: str, state: Any, info: Mapping[str, Any], now: dt.datetime,
                        warnings: List[str]) -> Optional[Dict[str, Any]]:
    """The stream's state to use (None: read the stream from start_date)."""
    if state in (None, {}):
        return None
    if not isinstance(state, dict):
        raise StateError(_sentence(name, "is not a JSON object", state, info["cursor"]))
    cursor = info["cursor"]
    if info["parent"] is None or not SUBSTREAM_KEYS & set(state):
        # A plain cursor: {"last_activity_at": ...}; the global form of a substream's state is the same.
        if cursor not in state:
            warnings.append(
                f"The saved state of stream {name} has no {cursor} (it holds {_keys(state)}): {name} is read "
                "from start_date this time, as if it had no state."
            )
            return None
        unknown = sorted(set(state) - {cursor})
        if unknown:
            warnings.append(f"The saved state of stream {name} has keys this connector does not use ({', '.join(unknown)}): they are ignored.")
        return {cursor: _date(name, cursor, state[cursor], info["formats"], now, warnings)}
    # A substream's state: {use_global_cursor, state: {date}, lookback_window, parent_state: {conversations: {...}}}
    unknown = sorted(set(state) - SUBSTREAM_KEYS)
    if unknown:
        warnings.append(f"The saved state of stream {name} has keys this connector does not use ({', '.join(unknown)}): they are ignored.")
    fixed: Dict[str, Any] = {k: v for k, v in state.items() if k in SUBSTREAM_KEYS}
    if "state" in fixed:
        inner = fixed["state"]
        if not isinstance(inner, dict) or cursor not in inner:
            warnings.append(f"The saved state of stream {name} has no {cursor}: {name} is read from start_date this time.")
            fixed.pop("state")
            fixed.pop("parent_state", None)  # without the message cursor, its parent's position is not enough
        else:
            fixed["state"] = {cursor: _date(name, cursor, inner[cursor], info["formats"], now, warnings)}
    if "lookback_window" in fixed:
        window = fixed["lookback_window"]
        if not isinstance(window, int) or isinstance(window, bool) or window < 0:
            warnings.append(f"The saved state of stream {name} has a lookback_window that is not a number of seconds ({window!r}): 0 is used.")
            fixed["lookback_window"] = 0
    parent_name, parent_cursor = info["parent"]
    if "parent_state" in fixed:
        parent = fixed["parent_state"]
        position = parent.get(parent_name) if isinstance(parent, dict) else None
        if not isinstance(position, dict) or parent_cursor not in position:
            warnings.append(
                f"The saved state of stream {name} has no position in {parent_name} ({parent_cursor}): every "
                f"conversation is listed again this time, and messages are read from the saved {cursor}."
            )
            fixed.pop("parent_state")
        else:
            field = f"parent_state.{parent_name}.{parent_cursor}"
            value = _date(name, field, position[parent_cursor], info["parent_formats"], now, warnings)
            fixed["parent_state"] = {parent_name: {parent_cursor: value}}
            order = _order_proof(name, parent, warnings)
            if order:
                fixed["parent_state"][ORDER_KEY] = order
    if "states" in fixed and not isinstance(fixed["states"], list):
        raise StateError(_sentence(name, "has per-conversation states that are not a list", fixed["states"], cursor))
    if not fixed.get("state") and not fixed.get("states"):
        if "state" not in state:  # (a "state" without the cursor was reported above)
            warnings.append(f"The saved state of stream {name} has no {cursor} (it holds {_keys(state)}): {name} is read from start_date this time.")
        return None
    return fixed


def _order_proof(stream: str, parent: Mapping[str, Any], warnings: List[str]) -> Optional[Dict[str, str]]:
    """What a read proved of the conversation list's order (components.ListOrderProof reads it), kept when it is a date;
    anything else is dropped with a warning: the list is then read whole, which loses nothing."""
    if ORDER_KEY not in parent:
        return None
    order = parent[ORDER_KEY]
    proof = order.get("newest_first_at") if isinstance(order, dict) else None
    try:
        dt.datetime.fromisoformat(proof) if isinstance(proof, str) else None
    except ValueError:
        proof = None
    if not isinstance(proof, str):
        warnings.append(
            f"The saved state of stream {stream} has a parent_state.{ORDER_KEY} this connector cannot read "
            f"({json.dumps(order)[:80]}): it is ignored, and this sync reads the whole conversation list."
        )
        return None
    return {"newest_first_at": proof}


def _date(stream: str, field: str, value: Any, formats: List[str], now: dt.datetime, warnings: List[str]) -> Any:
    """The saved value, parsed with the cursor's own formats (or, as a safe reading, any ISO 8601 date,
    UTC when it has no offset) and written back in the format the cursor writes."""
    parser = DatetimeParser()
    parsed = None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        for fmt in formats:
            try:
                parsed = parser.parse(str(value), fmt)
                break
            except (ValueError, TypeError, OverflowError):
                continue
        if parsed is None and isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                parsed = None
    if parsed is None:
        raise StateError(_sentence(stream, f"has {field} = {json.dumps(value)}, which is not a date", None, field,
                                   parser.format(now, formats[0])))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    written = parser.format(parsed, formats[0])
    if written != str(value):
        warnings.append(f"The saved state of stream {stream} has {field} = {json.dumps(value)}: read as {written}.")
    if parsed > now:
        warnings.append(
            f"The saved state of stream {stream} is in the future ({field} = {written}): nothing newer exists yet, so "
            f"this sync loads nothing new for {stream}, and neither will any sync before that date. Reset {stream} in "
            "Airbyte (or set the value to a past date) if that is not what you want."
        )
    return written


def _sentence(stream: str, what: str, value: Any, field: str, example: str = "2024-01-31 00:00:00.000000+0000") -> str:
    shown = "" if value is None else f" ({json.dumps(value)[:80]})"
    return (
        f"The saved state of stream {stream} {what}{shown}: reset the {stream} stream in Airbyte (its next sync then "
        f"reads everything since start_date), or set {field} to a date written like {example}."
    )


def _keys(state: Mapping[str, Any]) -> str:
    return ", ".join(sorted(map(str, state))) or "nothing"
