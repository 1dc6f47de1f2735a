"""Small real videos for tests, the local pipeline and benchmarks: encoded on the spot with PyAV (H.264 +
AAC in MP4 by default), never committed as binaries."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import av


def make_video(path: Path, *, seconds: float = 2.0, width: int = 320, height: int = 240, fps: int = 25,
               codec: str = "libx264", audio: bool = True, seed: int = 0) -> Path:
    """Write a moving test pattern (and a sine tone) to `path`; the container follows the file extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = max(1, int(seconds * fps))
    with av.open(str(path), mode="w") as out:
        video = out.add_stream(codec, rate=fps)
        if not isinstance(video, av.VideoStream):
            raise ValueError(f"{codec!r} is not a video codec")
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        tone = None
        if audio:
            tone = out.add_stream("aac", rate=48000)
            tone.layout = "mono"
        for n in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            luma = bytes(((x + 4 * n + seed) % 256) for x in range(width)) * height
            frame.planes[0].update(luma[: frame.planes[0].buffer_size])
            for plane, value in ((1, (seed * 37 + n) % 256), (2, 128)):
                frame.planes[plane].update(bytes([value]) * frame.planes[plane].buffer_size)
            frame.pts = n
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if tone is not None:
            samples = tone.codec_context.frame_size or 1024
            total = int(seconds * 48000)
            for start in range(0, total, samples):
                sound = av.AudioFrame(format="fltp", layout="mono", samples=samples)
                sound.sample_rate, sound.pts = 48000, start
                sound.planes[0].update(struct.pack(f"<{samples}f", *(
                    0.2 * math.sin(2 * math.pi * 440 * (start + i) / 48000) for i in range(samples))))
                for packet in tone.encode(sound):
                    out.mux(packet)
            for packet in tone.encode():
                out.mux(packet)
    return path
