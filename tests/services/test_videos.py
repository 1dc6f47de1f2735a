"""Video records: the idempotent upsert, reads and keyset pages, against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common import db, videos
from tests.services.conftest import record


def reading(settings, check) -> None:
    """`check(conn)` on an async connection in autocommit, as the API reads."""
    async def main():
        async with await psycopg.AsyncConnection.connect(**settings.conninfo("tests"), autocommit=True) as conn:
            await check(conn)
    asyncio.run(main())


def test_the_upsert_is_idempotent_per_object_version(clean_db):
    with db.connect(clean_db, "tests") as conn:
        first, inserted = videos.upsert(conn, record(1))
        again, inserted_again = videos.upsert(conn, {**record(1), "duration_seconds": 2.5})
        other_version, _ = videos.upsert(conn, record(1, version="v2"))
        conn.commit()
        assert inserted is True and inserted_again is False
        assert first["id"] == again["id"] == videos.video_id("ingest", "uploads/video-001.mp4", "v1")
        assert again["duration_seconds"] == 2.5 and again["processed_count"] == 2
        assert other_version["id"] != first["id"]
        assert conn.execute("SELECT count(*) FROM videos").fetchone()[0] == 2

    async def reads(conn):
        assert (await videos.get(conn, first["id"]))["key"] == "uploads/video-001.mp4"
        assert await videos.get(conn, str(uuid.uuid4())) is None
        assert set(await videos.get_many(conn, [first["id"], other_version["id"]])) == {first["id"],
                                                                                      other_version["id"]}
        assert await videos.get_many(conn, []) == {}
    reading(clean_db, reads)


def test_pages_walk_every_row_once_newest_first_and_filter_by_codec(clean_db):
    with db.connect(clean_db, "tests") as conn:
        for n in range(25):
            videos.upsert(conn, record(n, codec="vp9" if n % 5 == 0 else "h264"))
            conn.commit()  # each its own transaction: distinct created_at

    async def pages(conn):
        seen, cursor = [], None
        while True:
            items, cursor = await videos.page(conn, limit=10, cursor=cursor)
            seen += items
            if cursor is None:
                break
        assert len(seen) == 25 and len({v["id"] for v in seen}) == 25
        assert [v["created_at"] for v in seen] == sorted((v["created_at"] for v in seen), reverse=True)
        vp9, last = await videos.page(conn, limit=10, codec="vp9")
        assert len(vp9) == 5 and last is None and {v["video_codec"] for v in vp9} == {"vp9"}
    reading(clean_db, pages)


@given(created=st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)), vid=st.uuids())
def test_cursors_round_trip(created, vid):
    assert videos.decode_cursor(videos.encode_cursor(created.isoformat(), str(vid))) == (created, str(vid))


@given(st.text(max_size=80))
def test_a_cursor_this_api_did_not_issue_is_a_clear_error(garbage):
    try:
        videos.decode_cursor(garbage)
    except videos.BadCursor as exc:
        assert "cursor" in str(exc)


@pytest.mark.parametrize("garbage", ["", "not-base64!", "WyJ4Il0", "WyJub3QtYS1kYXRlIiwgIngiXQ"])
def test_known_bad_cursors_are_refused(garbage):
    with pytest.raises(videos.BadCursor):
        videos.decode_cursor(garbage)
