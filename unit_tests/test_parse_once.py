"""Each response's body is parsed once by the components (components.json_body, components.decoded), with exactly the values, and the errors, of the parsers it
replaces: requests' `response.json()` and airbyte-cdk's JsonDecoder."""

from __future__ import annotations

import json
from typing import Any, List

import pytest
import requests
from airbyte_cdk.sources.declarative.decoders import JsonDecoder, PaginationDecoderDecorator
from airbyte_cdk.sources.declarative.requesters.error_handlers.http_response_filter import HttpResponseFilter

from source_partoo import components

from .conftest import conversation, make_config, run_read

BODIES = [
    b'{"conversations": [{"id": 1}], "next_cursor": "c2", "count": 3}',
    b'[{"id": 1}, {"id": 2}]',
    b"[]",
    b"{}",
    b"null",
    b"0",
    b'""',
    b"false",
    b"<html>Bad gateway</html>",
    b'{"conversations": [{"id": 1}',  # cut short
    b"",
    b'{"value": NaN}',  # accepted by requests' json, not by orjson
    b'{"id": 123456789012345678901234567890}',  # over 64 bits: the same
    '{"name": "Zoé"}'.encode(),
]


def response(body: bytes, content_type: str = "application/json") -> requests.Response:
    made = requests.Response()
    made.status_code = 200
    made._content = body
    made.headers["Content-Type"] = content_type
    made.encoding = requests.utils.get_encoding_from_headers(made.headers)
    return made


def outcome(function: Any, *args: Any) -> Any:
    """The value as repr shows it (1, 1.0 and True apart), or the error's first classes."""
    try:
        return "value", repr(function(*args))
    except ValueError as error:
        return "error", type(error).__mro__[:3]


@pytest.mark.parametrize("body", BODIES)
def test_json_body_is_what_response_json_gives(body: bytes) -> None:
    assert outcome(components.json_body, response(body)) == outcome(lambda r: r.json(), response(body))
    once = response(body)
    assert outcome(components.json_body, once) == outcome(components.json_body, once)


@pytest.mark.parametrize("body", BODIES)
def test_a_filter_sees_the_same_response_as_with_its_own_parser(body: bytes) -> None:
    assert repr(components.json_body_or_empty(response(body))) == repr(HttpResponseFilter._safe_response_json(response(body)))


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("wrapped", [False, True])
def test_decoded_is_what_the_json_decoder_yields(body: bytes, wrapped: bool) -> None:
    decoder: Any = JsonDecoder(parameters={})
    if wrapped:
        decoder = PaginationDecoderDecorator(decoder=decoder)
    assert repr(list(components.decoded(decoder, response(body)))) == repr(list(decoder.decode(response(body))))


def test_a_body_declared_in_another_charset_is_left_to_requests() -> None:
    latin = response('{"name": "Zoé"}'.encode("latin-1"), "application/json; charset=iso-8859-1")
    assert components.json_body(latin) == {"name": "Zoé"}


def test_each_page_is_parsed_once_in_a_read(partoo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read of 5 pages of conversations: 5 parses by the components, none by airbyte-cdk's decoder, and
    one per page by the `not_a_page` filter's predicate (airbyte-cdk parses it with requests' json: tuning.py,
    which pointed the filters at json_body by replacing their method, is gone with issue #22).
    (Before the parse-once work: 4 per page, two of them by requests' pure-Python json.)"""
    partoo.conversations = [conversation(c, last=f"2024-03-01 10:{c % 60:02d}:00.000000+00:00") for c in range(1, 451)]
    parsed: List[int] = []
    real = components.orjson.loads

    class CountingOrjson:
        JSONDecodeError = components.orjson.JSONDecodeError

        @staticmethod
        def loads(data: Any) -> Any:
            parsed.append(len(data))
            return real(data)

    others: List[str] = []
    monkeypatch.setattr(components, "orjson", CountingOrjson)
    monkeypatch.setattr(requests.Response, "json", lambda self, **kw: others.append("response.json") or json.loads(self.content))
    decode = JsonDecoder.decode
    monkeypatch.setattr(JsonDecoder, "decode", lambda self, r: others.append("JsonDecoder") or decode(self, r))

    output = run_read(make_config(), "conversations")

    assert len(output.records) == 450
    assert len(partoo.requests("/conversations")) == 5
    assert len(parsed) == 5
    assert others == ["response.json"] * 5


def test_a_record_that_cannot_be_keyed_fails_the_page_after_the_records_before_it() -> None:
    """As when the records were checked one by one: those before the bad one (an unhashable date) are
    extracted, then the error is raised."""
    extractor = components.PageRecords(field_name="conversations", decoder=JsonDecoder(parameters={}), config={},
                                       parameters={}, once_per_activity=True)
    page = response(json.dumps({"conversations": [{"id": 1, "created_at": "2024-01-01 10:00:00.000000+00:00"},
                                                  {"id": 2, "created_at": ["not", "a", "date"]},
                                                  {"id": 3, "created_at": "2024-01-01 10:00:00.000000+00:00"}]}).encode())
    extracted: List[Any] = []
    with pytest.raises(TypeError):
        for record in extractor.extract_records(page):
            extracted.append(record["id"])
    assert extracted == [1]
