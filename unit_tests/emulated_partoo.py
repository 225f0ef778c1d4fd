"""The emulator's API areas beyond Messages (partoo_emulator.areas), served in process through requests-mock:
the connector reads the very data the emulator serves, with no socket and no subprocess."""

from __future__ import annotations

import re
from typing import Any, Dict, List
from urllib.parse import parse_qs, urlsplit

from partoo_emulator.areas import Areas
from partoo_emulator.messaging import Dataset
from partoo_emulator.server import build_parser

from .conftest import BASE

AREA_URL = re.compile(re.escape(BASE) + r"/(business/search|reviews|user/search|sections|org/search|custom_fields"
                      r"|review_analytics|presence_analytics|posts|publisher_states|feedback|messaging/templates)(/.*)?(\?.*)?$")


def mount(requests_mock: Any, *flags: str) -> Areas:
    """Serve GET {BASE}/business/search, /reviews, ... (every path of partoo_emulator.areas) from a fresh
    emulator built with these CLI flags."""
    args = build_parser().parse_args(list(flags))
    areas = Areas(args, Dataset(args.seed, 0, args.businesses, 1, False).business_ids)

    def answer(request: Any, context: Any) -> Any:
        parts = urlsplit(request.url)  # not request.qs: requests-mock lower-cases it
        query: Dict[str, str] = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        caller = areas.caller(request.headers.get("x-APIKey", ""), None)
        status, body = areas.handle(parts.path, query, caller) or (404, {"errors": {"json": "Not found"}})
        context.status_code = status
        return body

    requests_mock.get(AREA_URL, json=answer)
    return areas


def requests_to(requests_mock: Any, path: str) -> List[Any]:
    return [r for r in requests_mock.request_history if urlsplit(r.url).path == "/v2" + path]


def query_of(request: Any) -> Dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()}
