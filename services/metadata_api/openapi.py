"""The metadata API's OpenAPI 3.1 description, served at GET /openapi.json. Written by hand (the API has no
framework to generate it); tests/services/test_openapi.py checks that every route the API answers is described
and that real answers match the described schemas."""

from __future__ import annotations

from typing import Any

from services.common.videos import MAX_CURSOR_CHARS


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_UNAVAILABLE = {**_error("A dependency is unreachable; retry after the Retry-After seconds"),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}}
_COMMON = {"400": _error("Bad input (the detail says which)"), "405": _error("Only GET and HEAD are served"),
           "500": _error("Unexpected failure (logged)")}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "StreamTech video metadata API", "version": "1.0.0",
             "description": "Read-only technical metadata of processed videos. Every error is JSON "
                            "{error, detail}, including protocol errors (400, 413, 414, 431)."},
    "paths": {
        "/health": {"get": {
            "summary": "Liveness and the state of the database and the cache (always 200)",
            "responses": {"200": {"description": "The service answers",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                          **_COMMON}}},
        "/videos": {"get": {
            "summary": "Videos, newest first, keyset-paged",
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100,
                                                            "default": 20}},
                {"name": "cursor", "in": "query", "description": "next_cursor of the previous page",
                 "schema": {"type": "string", "maxLength": MAX_CURSOR_CHARS}},
                {"name": "codec", "in": "query", "schema": {"type": "string", "pattern": "^[a-z0-9_]{1,32}$"}}],
            "responses": {"200": {"description": "One page",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}},
                          "503": _UNAVAILABLE, **_COMMON}}},
        "/videos/popular": {"get": {
            "summary": "The most viewed videos (view counts live in the cache)",
            "parameters": [{"name": "limit", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}}],
            "responses": {"200": {"description": "Ranked videos",
                                  "content": {"application/json": {
                                      "schema": {"$ref": "#/components/schemas/Popular"}}}},
                          "503": _UNAVAILABLE, **_COMMON}}},
        "/videos/{id}": {"get": {
            "summary": "One video (cache-aside; the view is counted for /videos/popular)",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string", "format": "uuid"}}],
            "responses": {"200": {"description": "The video",
                                  "headers": {"X-Cache": {"schema": {"enum": ["HIT", "MISS", "BYPASS"]}}},
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Video"}}}},
                          "404": _error("No such video"), "503": _UNAVAILABLE, **_COMMON}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1",
                                                        "content": {"application/json": {}}}}}},
    },
    "components": {"schemas": {
        "Error": {"type": "object", "required": ["error", "detail"], "additionalProperties": False,
                  "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}},
        "Health": {"type": "object", "required": ["status", "database", "cache"],
                   "properties": {"status": {"const": "ok"}, "database": {"enum": ["ok", "unavailable"]},
                                  "cache": {"enum": ["ok", "unavailable"]},
                                  "schema_version": {"type": "integer"}}},
        "Video": {"type": "object",
                  "required": ["id", "bucket", "key", "version_id", "container", "duration_seconds", "width",
                               "height", "video_codec"],
                  "properties": {
                      "id": {"type": "string", "format": "uuid"}, "bucket": {"type": "string"},
                      "key": {"type": "string"}, "version_id": {"type": "string"},
                      "container": {"type": "string"}, "duration_seconds": {"type": ["number", "null"]},
                      "bit_rate": {"type": ["integer", "null"]}, "width": {"type": "integer"},
                      "height": {"type": "integer"}, "frame_rate": {"type": ["number", "null"]},
                      "video_codec": {"type": "string"}, "audio_codec": {"type": ["string", "null"]},
                      "size_bytes": {"type": ["integer", "null"]}, "streams": {"type": "array"}}},
        "Page": {"type": "object", "required": ["items", "next_cursor", "limit"],
                 "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Video"}},
                                "next_cursor": {"type": ["string", "null"]}, "limit": {"type": "integer"}}},
        "Popular": {"type": "object", "required": ["items", "limit"],
                    "properties": {"items": {"type": "array", "items": {
                        "allOf": [{"$ref": "#/components/schemas/Video"},
                                  {"type": "object", "required": ["views"],
                                   "properties": {"views": {"type": "integer", "minimum": 1}}}]}},
                        "limit": {"type": "integer"}}},
    }},
}
