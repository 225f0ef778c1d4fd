"""Groups and sections (GET /sections, /sections/{id}, /sections/{id}/groups/{id}): two sections of two
groups each; every business is in one group of each section."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from partoo_emulator.pages import FORBIDDEN, NOT_FOUND, Answer, Caller, PageSettings, search_page

SECTIONS = [(1, "Region", [(11, "North"), (12, "South")]), (2, "Brand", [(21, "Bakery"), (22, "Cafe")])]


class Groups:
    def __init__(self, business_ids: List[str], bare_list: bool = False) -> None:
        self.business_ids = business_ids
        self.bare_list = bare_list  # GET /sections's wrapper is not documented: a bare list is the other reading

    def groups_of(self, index: int) -> List[int]:
        return [11 if index % 2 == 0 else 12, 21 if index % 3 else 22]

    def group(self, gid: int) -> Optional[dict]:
        for _, _, groups in SECTIONS:
            for group_id, name in groups:
                if group_id == gid:
                    members = [b for i, b in enumerate(self.business_ids) if gid in self.groups_of(i)]
                    return {"id": gid, "name": name, "has_puller": gid == 22, "business_ids": members}
        return None

    def section(self, sid: int) -> Optional[dict]:
        for section_id, name, groups in SECTIONS:
            if section_id == sid:
                return {"id": sid, "name": name, "can_edit": sid == 1, "has_puller": False,
                        "groups": [{"id": g, "name": n, "has_puller": g == 22} for g, n in groups]}
        return None

    def handle(self, path: str, query: Dict[str, str], caller: Caller, settings: PageSettings) -> Optional[Answer]:
        if not path.startswith("/v2/sections"):
            return None
        if not caller.at_least("ORG_MANAGER"):
            return FORBIDDEN
        if path == "/v2/sections":
            sections = [self.section(sid) for sid, _, _ in SECTIONS]
            if self.bare_list:
                return 200, sections
            return search_page("sections", sections, query, settings)
        match = re.fullmatch(r"/v2/sections/(\d+)(?:/groups/(\d+))?", path)
        if not match:
            return NOT_FOUND
        section = self.section(int(match.group(1)))
        if section is None:
            return NOT_FOUND
        if match.group(2) is None:
            return 200, section
        gid = int(match.group(2))
        if gid not in [g["id"] for g in section["groups"]]:
            return NOT_FOUND
        return 200, self.group(gid)

    def expected(self, stream: str, query: Dict[str, str]) -> Optional[List[dict]]:
        if stream == "group_sections":
            return [self.section(sid) for sid, _, _ in SECTIONS]
        if stream == "groups":
            return [dict(self.group(g), section_id=sid) for sid, _, groups in SECTIONS for g, _ in groups]
        return None

    def control(self, action: str, body: Dict[str, Any]) -> Optional[dict]:
        return None
