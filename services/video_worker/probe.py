"""Technical metadata of a video file, read with PyAV (FFmpeg's demuxers and decoders)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av


class UnreadableVideo(ValueError):
    """The file is not a video FFmpeg can read (corrupt, truncated, not a media file, no video stream)."""


def _rate(value: Fraction | None) -> float | None:
    return round(float(value), 3) if value else None


def _stream(stream: av.stream.Stream) -> dict[str, Any]:
    ctx = stream.codec_context
    # getattr: for some damaged headers PyAV's streams lack attributes they normally have (bit_rate seen).
    info: dict[str, Any] = {"index": stream.index, "type": stream.type, "codec": ctx.name if ctx else None,
                            "bit_rate": getattr(stream, "bit_rate", None) or getattr(ctx, "bit_rate", None) or None,
                            "duration_seconds": round(float(stream.duration * stream.time_base), 3)
                            if stream.duration and stream.time_base else None}
    # PyAV makes a stream of type "video" a VideoStream, of type "audio" an AudioStream.
    if isinstance(stream, av.VideoStream):
        video = stream.codec_context
        info.update(width=video.width, height=video.height,
                    pixel_format=video.format.name if video.format else None,
                    frame_rate=_rate(stream.average_rate or stream.guessed_rate), frames=stream.frames or None)
    elif isinstance(stream, av.AudioStream):
        audio = stream.codec_context
        info.update(sample_rate=audio.sample_rate, channels=audio.channels if hasattr(audio, "channels")
                    else audio.layout.nb_channels)
    return info


def probe(path: Path, *, decode_check: bool = True) -> dict[str, Any]:
    """Container, duration, bit rate and streams of `path`; with `decode_check`, the first video frame must
    decode (a file whose header parses but whose data is garbage is unreadable, not a video)."""
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            streams = [_stream(s) for s in container.streams if s.type in ("video", "audio", "subtitle", "data")]
            video = next((s for s in streams if s["type"] == "video"), None)
            if video is None:
                raise UnreadableVideo("no video stream")
            if decode_check:
                first = next(container.decode(video=0), None)
                if first is None:
                    raise UnreadableVideo("the video stream has no decodable frame")
            audio = next((s for s in streams if s["type"] == "audio"), None)
            duration = round(container.duration / av.time_base, 3) if container.duration else video["duration_seconds"]
            return {
                "container": container.format.name,
                "duration_seconds": duration,
                "bit_rate": container.bit_rate or None,
                "width": video["width"], "height": video["height"], "frame_rate": video["frame_rate"],
                "video_codec": video["codec"], "audio_codec": audio["codec"] if audio else None,
                "streams": streams,
            }
    except UnreadableVideo:
        raise
    except Exception as exc:
        # raise (FFmpegError, ValueError, and for a few byte-flipped headers AttributeError), it is not a video
        # this service can read; the reason keeps the exception's type for the dead-letter queue.
        raise UnreadableVideo(f"{type(exc).__name__}: {exc}") from exc
