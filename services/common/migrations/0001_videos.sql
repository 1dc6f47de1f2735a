-- Technical metadata of every processed video version; PostgreSQL is the source of truth.
CREATE TABLE videos (
    id               uuid PRIMARY KEY,            -- uuid5 of bucket/key#version: the same upload, the same id
    bucket           text        NOT NULL,
    object_key       text        NOT NULL,
    version_id       text        NOT NULL,
    size_bytes       bigint      NOT NULL CHECK (size_bytes >= 0),
    etag             text,
    container        text        NOT NULL,
    duration_seconds double precision,
    bit_rate         bigint,
    width            integer,
    height           integer,
    frame_rate       double precision,
    video_codec      text,
    audio_codec      text,
    streams          jsonb       NOT NULL,
    uploaded_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    processed_count  integer     NOT NULL DEFAULT 1,
    CONSTRAINT videos_object_version UNIQUE (bucket, object_key, version_id)
);
-- Keyset paging for GET /videos (newest first) and its codec filter.
CREATE INDEX videos_created_id ON videos (created_at DESC, id DESC);
CREATE INDEX videos_codec_created_id ON videos (video_codec, created_at DESC, id DESC);
