"""The metadata API's OpenAPI description (services/metadata_api/openapi.py): served at /openapi.json, it describes
every route, and the real answers of the served API conform to it."""

from __future__ import annotations

import json
import uuid

from services.metadata_api.openapi import DOCUMENT
from tests.services.conftest import request


def test_the_openapi_description_covers_every_route_and_matches_real_answers(http_api, stored):
    status, _, body = request(http_api, "GET", "/openapi.json")
    document = json.loads(body)
    assert status == 200 and document == json.loads(json.dumps(DOCUMENT)) and document["openapi"] == "3.1.0"
    paths = document["paths"]
    vid = stored[0]["id"]
    for target, template, code in [("/health", "/health", 200), ("/videos?limit=2", "/videos", 200),
                                   (f"/videos/{vid}", "/videos/{id}", 200), ("/videos/popular", "/videos/popular", 200),
                                   (f"/videos/{uuid.uuid4()}", "/videos/{id}", 404),
                                   ("/videos?limit=0", "/videos", 400)]:
        status, _, body = request(http_api, "GET", target)
        assert status == code and str(code) in paths[template]["get"]["responses"], (target, status)
        answer = json.loads(body)
        schema = paths[template]["get"]["responses"][str(code)]["content"]["application/json"]["schema"]
        _conforms(answer, schema, document)


def _conforms(value, schema, document) -> None:
    """The subset of JSON Schema the description uses: $ref, type, required, properties, items, allOf, enum."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for part in schema.get("allOf", []):
        _conforms(value, part, document)
    types = schema.get("type")
    if types:
        names = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
                 "null": type(None), "boolean": bool}
        allowed = types if isinstance(types, list) else [types]
        assert any(isinstance(value, names[t]) for t in allowed), (value, types)
    if "enum" in schema:
        assert value in schema["enum"]
    if "const" in schema:
        assert value == schema["const"]
    if isinstance(value, dict):
        assert set(schema.get("required", [])) <= set(value), (sorted(value), schema.get("required"))
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(schema.get("properties", {}))
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _conforms(value[name], sub, document)
    if isinstance(value, list) and "items" in schema:
        for item in value:
            _conforms(item, schema["items"], document)
