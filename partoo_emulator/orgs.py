"""The organization (GET /org/search) and its custom field definitions (GET /custom_fields, unpaginated)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from partoo_emulator.pages import FORBIDDEN, Answer, Caller, PageSettings, search_page

ORG = {
    "org_id": 42, "name": "Boulangeries Demo", "alias": "boulangeries_demo", "provider": "partoo",
    "type": "enterprise", "features": ["messages", "review_management", "diffusion"], "org_features": [],
    "last_org_api_call": "05-11-2021", "max_businesses": None,
}
CUSTOM_FIELDS = [
    {"id": 1, "name": "Terrace", "description": None, "type": "BOOLEAN", "order": 1, "section_id": None,
     "section_name": None, "slug": "terrace"},
    {"id": 2, "name": "Manager name", "description": "Who runs the shop", "type": "TEXT", "order": 2,
     "section_id": 7, "section_name": "Team", "slug": None, "max_len": 80},
    {"id": 3, "name": "Seats", "description": None, "type": "INTEGER", "order": 3, "section_id": None,
     "section_name": None, "slug": "seats", "min": 0, "max": 400},
    {"id": 4, "name": "Specialities", "description": None, "type": "MULTIPLE_SELECT", "order": 4,
     "section_id": None, "section_name": None, "slug": "specialities",
     "possible_values": ["Bread", "Pastries", "Coffee"], "max_selected_values": 2},
    {"id": 5, "name": "Opening notes", "description": None, "type": "TEXT", "order": 5, "section_id": None,
     "section_name": None, "slug": None, "text_fields": [{"text_field": "note", "max_len": 20}, "legacy"]},
]


class Organizations:
    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if path == "/v2/org/search":
            return search_page("orgs", [ORG], query, settings)
        if path == "/v2/custom_fields":
            if not caller.at_least("ORG_ADMIN"):
                return FORBIDDEN
            return 200, {"custom_fields": CUSTOM_FIELDS}
        return None

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream == "organizations":
            return [ORG]
        if stream == "custom_fields":
            return CUSTOM_FIELDS
        return None

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        return None
