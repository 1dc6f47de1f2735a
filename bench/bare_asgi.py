"""The yardstick of bench/api_load.py: a bare ASGI app on the metadata API's stack (uvicorn, httptools, uvloop,
no access log, no server header), answering every request with a fixed JSON body the size of a video record
and the headers the API sends, so the same wrk script measures it at the same client-side cost.

    python bench/bare_asgi.py PORT    (serves 127.0.0.1:PORT until SIGTERM; prints "ready" once listening)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from platform_spec.exit_codes import EXIT_USAGE

# The shape and size of a cached video record as the API answers it (bench/api_load.py seeds rows like this).
BODY = json.dumps({
    "id": "6f1c1c3e-8f8a-5d3e-9a57-0c1e2f7d9a10", "bucket": "ingest", "key": "uploads/bench-000000.mp4",
    "version_id": "v1", "size_bytes": 5000000, "etag": "e0", "container": "mov,mp4,m4a,3gp,3g2,mj2",
    "duration_seconds": 60.0, "bit_rate": 2000000, "width": 1920, "height": 1080, "frame_rate": 29.97,
    "video_codec": "h264", "audio_codec": "aac",
    "streams": [{"index": 0, "type": "video", "codec": "h264", "width": 1920, "height": 1080},
                {"index": 1, "type": "audio", "codec": "aac", "sample_rate": 48000, "channels": 2}],
    "uploaded_at": None, "created_at": "2026-12-06T00:00:00.000000+00:00",
    "updated_at": "2026-12-06T00:00:00.000000+00:00", "processed_count": 1}, separators=(",", ":")).encode()
START = {"type": "http.response.start", "status": 200, "headers": [
    (b"content-type", b"application/json"), (b"cache-control", b"no-store"),
    (b"content-length", str(len(BODY)).encode()), (b"x-cache", b"HIT"), (b"server-timing", b"app;dur=0.1")]}
ANSWER = {"type": "http.response.body", "body": BODY}


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send(START)
    await send(ANSWER)


class Server(uvicorn.Server):
    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        print("ready", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or not 0 < int(sys.argv[1]) < 65536:
        print("usage: python bench/bare_asgi.py PORT (1-65535)", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), http="httptools", loop="uvloop",
                          ws="none", lifespan="off", log_config=None, log_level="warning", access_log=False,
                          server_header=False, date_header=True)).run()
