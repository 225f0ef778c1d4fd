"""One second off every run (spec, check, discover, read): airbyte-cdk's import, without the docstrings.

airbyte-cdk builds the Airbyte protocol's serializers (serpyco-rs) when it is imported. serpyco-rs then
collects each protocol class's attribute docstrings, only to put them in JSON-schema descriptions that
airbyte-cdk never asks for, and on Python 3.11 `inspect.getsource` parses the whole models module again
for every class: about 1 s, 40% of the import, measured by bench/run.py (`connector_startup_s`).
Serialization does not read docstrings. This must run before airbyte_cdk is first imported; with another
serpyco-rs (constraints.txt pins 1.23.0) that no longer has the function, it does nothing, and
unit_tests/test_startup.py fails so that the pin's next bump notices.
"""

from __future__ import annotations

from typing import Any, Dict


def _no_docstrings(cls: Any) -> Dict[str, str]:
    return {}


def skip_serializer_docstrings() -> bool:
    """True when serpyco-rs's docstring collection is skipped."""
    try:
        from serpyco_rs import _describe
        from serpyco_rs._json_schema import _convert
    except ImportError:
        return False
    modules = [module for module in (_describe, _convert) if hasattr(module, "get_attributes_doc")]
    for module in modules:
        module.get_attributes_doc = _no_docstrings  # type: ignore[attr-defined]
    return len(modules) == 2
