"""Message reply templates (GET /messaging/templates): a bare JSON array, unpaginated.

Readings of what the docs leave open, chosen to be the hardest for a client:
- the array is the whole body (no wrapper, no count), and every query parameter is ignored;
- `content` is a JSON document serialized in a string (a rich-text tree), not an object;
- dates have Messages' format ('2023-01-31 16:22:17.327878+00:00': a space, an offset); `icon` may be null.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List, Optional

from partoo_emulator.messaging import partoo_date
from partoo_emulator.pages import FORBIDDEN, Answer, Caller, PageSettings

TITLES = [("Bienvenue", "👋"), ("Horaires", "🕘"), ("Commande prete", "🥖"), ("Merci", None), ("Adresse", "📍"),
          ("Allergenes", "⚠️"), ("Fermeture exceptionnelle", None), ("Click & collect", "🛍️")]
EPOCH = dt.datetime(2023, 3, 1, 9, tzinfo=dt.timezone.utc)


def template(index: int) -> dict:
    title, icon = TITLES[index]
    created = EPOCH + dt.timedelta(days=37 * index, minutes=index, microseconds=1234 * index)
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": f"{title}: "}, {"type": "variable", "attrs": {"id": "client_first_name"}},
        {"type": "text", "text": " !"}]}]}
    return {"id": 4000 + index, "title": title, "content": json.dumps(doc, ensure_ascii=False), "icon": icon, "org_id": 42,
            "created_at": partoo_date(created), "updated_at": partoo_date(created + dt.timedelta(days=index % 3 * 40)),
            "usage_count": (index * 37) % 110}


TEMPLATES = [template(i) for i in range(len(TITLES))]


class Templates:
    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path != "/v2/messaging/templates":
            return None
        if not caller.scope({}, "messages")[1]:
            return FORBIDDEN
        return 200, TEMPLATES

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        return list(TEMPLATES) if stream == "message_templates" else None

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        return None
