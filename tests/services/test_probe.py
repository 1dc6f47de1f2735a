"""Technical metadata from real (generated) media files, and clear refusals of everything else."""

from __future__ import annotations

import pytest

from localenv.sample_video import make_video
from services.video_worker.probe import UnreadableVideo, probe


def test_a_generated_h264_aac_video_is_described(sample_video):
    meta = probe(sample_video)
    assert meta["container"].startswith("mov,mp4")
    assert meta["video_codec"] == "h264" and meta["audio_codec"] == "aac"
    assert (meta["width"], meta["height"], meta["frame_rate"]) == (320, 240, 25.0)
    assert meta["duration_seconds"] == pytest.approx(2.0, abs=0.1)
    assert meta["bit_rate"] > 0
    assert [s["type"] for s in meta["streams"]] == ["video", "audio"]


def test_other_containers_and_codecs(tmp_path):
    meta = probe(make_video(tmp_path / "clip.webm", seconds=1, codec="libvpx", audio=False, width=160, height=120,
                            fps=10))
    assert meta["container"] == "matroska,webm" and meta["video_codec"] == "vp8"
    assert meta["audio_codec"] is None and (meta["width"], meta["height"]) == (160, 120)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "zeroed_middle"])
def test_damaged_or_foreign_files_are_unreadable(sample_video, tmp_path, damage):
    data = sample_video.read_bytes()
    content = {"truncated": data[:3000], "garbage": b"definitely not a video " * 200, "empty": b"",
               "zeroed_middle": data[:48] + bytes(len(data) - 48)}[damage]
    path = tmp_path / f"{damage}.mp4"
    path.write_bytes(content)
    with pytest.raises(UnreadableVideo):
        probe(path)


def test_an_audio_only_file_is_not_a_video(tmp_path):
    import av

    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "mono"
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate, frame.pts = 48000, 0
        frame.planes[0].update(bytes(4096))
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    with pytest.raises(UnreadableVideo, match="no video stream"):
        probe(path)


def mutants(data: bytes, count: int, seed: int) -> list[bytes]:
    """Byte flips, truncations and spliced garbage of `data` (seeded: the same mutants every run)."""
    import random

    rng, out = random.Random(seed), []
    for _ in range(count):
        damaged = bytearray(data)
        kind = rng.random()
        if kind < 0.6:
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        elif kind < 0.8:
            damaged = damaged[:rng.randrange(len(damaged))]
        else:
            at = rng.randrange(len(damaged))
            damaged[at:at + rng.randint(1, 64)] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        out.append(bytes(damaged))
    return out


@pytest.mark.parametrize("suffix, codec, audio", [(".mkv", "libx264", True), (".webm", "libvpx", False),
                                                  (".mp4", "libx264", True)])
def test_damaged_uploads_are_described_or_unreadable_never_an_exception(tmp_path, suffix, codec, audio):
    """Issue 12: 5 of 600 byte-flipped MKV/WebM files made the probe raise AttributeError (a stream without
    bit_rate), which ended the worker's loop. 300 mutants per container here (on that code, the WebM and
    MP4 sets raised it)."""
    clip = make_video(tmp_path / f"clip{suffix}", seconds=0.5, width=64, height=48, codec=codec, audio=audio)
    outcomes = {"described": 0, "unreadable": 0}
    for n, data in enumerate(mutants(clip.read_bytes(), 300, seed=len(suffix))):
        path = tmp_path / f"mutant-{n}{suffix}"
        path.write_bytes(data)
        try:
            meta = probe(path)
        except UnreadableVideo as exc:
            assert str(exc), "an unreadable file needs a reason"
            outcomes["unreadable"] += 1
        else:
            assert meta["video_codec"] and meta["width"] and meta["height"]
            outcomes["described"] += 1
        path.unlink()
    assert outcomes["described"] and outcomes["unreadable"], outcomes  # both kinds really occurred


def test_any_exception_while_reading_is_an_unreadable_video(sample_video, monkeypatch):
    import av

    def broken(*_args, **_kwargs):
        raise AttributeError("'VideoStream' object has no attribute 'bit_rate'")

    monkeypatch.setattr(av, "open", broken)
    with pytest.raises(UnreadableVideo, match="AttributeError"):
        probe(sample_video)
