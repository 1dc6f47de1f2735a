"""The video metadata records: identity, the idempotent upsert, reads, keyset pages and their JSON form."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

# uuid5 namespace of video ids: the same bucket/key#version always gets the same id.
VIDEO_NAMESPACE = uuid.UUID("5f0c3a56-8d0b-4b6e-9a57-3c1e2f7d9a10")
COLUMNS = ("id", "bucket", "object_key", "version_id", "size_bytes", "etag", "container", "duration_seconds",
           "bit_rate", "width", "height", "frame_rate", "video_codec", "audio_codec", "streams", "uploaded_at",
           "created_at", "updated_at", "processed_count")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM videos"


class BadCursor(ValueError):
    """A paging cursor that this API did not issue."""


def video_id(bucket: str, key: str, version_id: str) -> str:
    return str(uuid.uuid5(VIDEO_NAMESPACE, f"{bucket}/{key}#{version_id}"))


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A database row as the API's JSON object (ISO timestamps, `key` for the object key)."""
    out = {}
    for name in COLUMNS:
        value = row.get(name)
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        elif isinstance(value, uuid.UUID):
            value = str(value)
        out["key" if name == "object_key" else name] = value
    return out


def upsert(conn: psycopg.Connection, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Insert or update the row of (bucket, key, version); return (the row as JSON, inserted?).

    Idempotent: a redelivered message rewrites the same row (same id) and counts the reprocessing."""
    values = dict(record)
    values["id"] = video_id(record["bucket"], record["object_key"], record["version_id"])
    values["streams"] = Jsonb(record["streams"])
    names = [c for c in COLUMNS if c in values]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in ("id", "bucket", "object_key", "version_id"))
    sql = (f"INSERT INTO videos ({', '.join(names)}) VALUES ({', '.join('%(' + c + ')s' for c in names)}) "
           f"ON CONFLICT (bucket, object_key, version_id) DO UPDATE SET {updates}, updated_at = now(), "
           f"processed_count = videos.processed_count + 1 "
           f"RETURNING {', '.join(COLUMNS)}, (xmax = 0) AS inserted")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sql, values).fetchone()
    if row is None:  # an upsert with RETURNING answers one row, inserted or updated
        raise RuntimeError("INSERT ... ON CONFLICT DO UPDATE ... RETURNING returned no row")
    inserted = bool(row.pop("inserted"))
    return to_json(row), inserted


# The reads are the API's, on its event loop (psycopg's async connections in autocommit: a read is one round
# trip); the upsert above is the worker's, on a blocking connection.
GET_ONE = f"{SELECT} WHERE id = %s"
GET_MANY = f"{SELECT} WHERE id = ANY(%s::uuid[])"


async def get(conn: psycopg.AsyncConnection, vid: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(GET_ONE, (vid,))
        row = await cur.fetchone()
    return to_json(row) if row else None


async def get_many(conn: psycopg.AsyncConnection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(GET_MANY, (list(ids),))
        rows = await cur.fetchall()
    return {str(r["id"]): to_json(r) for r in rows}


def encode_cursor(created_at: str, vid: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, vid]).encode()).decode().rstrip("=")


MAX_CURSOR_CHARS = 256  # an issued cursor is ~90 characters


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        created_at, vid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(created_at), str(uuid.UUID(vid))
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, RecursionError):
        raise BadCursor("cursor is not one this API issued (use the next_cursor of the previous page)") from None


async def page(conn: psycopg.AsyncConnection, *, limit: int, cursor: str | None = None,
               codec: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, `limit` items after `cursor`; returns (items, next cursor or None on the last page)."""
    where, params = [], []
    if cursor:
        created_at, vid = decode_cursor(cursor)
        where.append("(created_at, id) < (%s, %s)")
        params += [created_at, vid]
    if codec:
        where.append("video_codec = %s")
        params.append(codec)
    sql = f"{SELECT}{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY created_at DESC, id DESC LIMIT %s"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, [*params, limit + 1])
        rows = await cur.fetchall()
    items = [to_json(r) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1]["created_at"], items[-1]["id"]) if len(rows) > limit else None
    return items, next_cursor
