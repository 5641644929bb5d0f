"""Storage test fixtures: an in-process GCS emulator (``gcp-storage-emulator``)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

# gcsfs reads this when it is imported: with its experimental bucket-type probe on,
# every access to an emulator stalls ~60 s. Set it before any test imports gcsfs.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

GCS_BUCKET = "streamvis-test"


def _wait_until_ready(endpoint: str, bucket: str, timeout: float) -> None:
    """Poll the emulator's bucket endpoint until it answers 200 (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/storage/v1/b/{bucket}", timeout=1.0) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:  # not up yet
            last = exc
    raise RuntimeError(f"the GCS emulator at {endpoint} did not become ready: {last}")


def _binary_safe_multipart(emulator_server: Any, original: Any) -> Any:
    """Wrap the emulator's body parser so multipart uploads keep their bytes exactly.

    The emulator parses uploads with ``email``'s parser, which takes the line break
    before a boundary to be CRLF when the payload ends in CR: gcsfs delimits with LF,
    so a payload ending in ``0x0D`` (1 segment in 256: its last CRC byte) lost that
    byte. Parse ``multipart/related`` bodies by hand, with the message's own line ending.
    """

    def read_data(request_handler: Any, query: Any) -> Any:
        ctype = request_handler.headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/related") or request_handler.headers.get(
            "Content-Encoding"
        ):
            return original(request_handler, query)
        boundary = ctype.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
        raw = emulator_server._read_raw_data(request_handler) or b""
        delim = b"--" + boundary
        eol = b"\r\n" if raw[raw.index(delim) + len(delim) :].startswith(b"\r\n") else b"\n"
        parts = raw.split(eol + delim)
        first = parts[0][parts[0].index(delim) + len(delim) + len(eol) :]
        bodies = []
        for part in [first] + [p[len(eol) :] for p in parts[1:-1]]:
            head, _, body = part.partition(eol + eol)
            fields = dict(
                line.split(":", 1) for line in head.decode().split(eol.decode()) if ":" in line
            )
            bodies.append(({k.strip().lower(): v.strip() for k, v in fields.items()}, body))
        return {
            "meta": json.loads(bodies[0][1]),
            "content": bodies[1][1],
            "content-type": bodies[1][0].get("content-type", "application/octet-stream"),
        }

    return read_data


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[dict[str, Any]]:
    """A running emulator with one bucket.

    Yields ``{"bucket", "endpoint", "storage_options"}``; ``storage_options`` go to
    ``Store.open(..., storage_options=...)`` (gcsfs: anonymous token, emulator endpoint).
    """
    from gcp_storage_emulator import server as emulator_server

    # Port 0: the OS picks a free port when the server binds, so there is no race.
    server = emulator_server.create_server(
        "127.0.0.1", 0, in_memory=True, default_bucket=GCS_BUCKET
    )
    api = server._api
    api.daemon = True
    api.start()
    if not api.is_running.wait(timeout=15):
        raise RuntimeError("the GCS emulator thread did not start")
    # The emulator serves one request at a time with a listen backlog of 5; gcsfs fetches
    # segments concurrently, and dropped connections cost ~1 s retransmits. Re-listening
    # with a deeper backlog keeps them queued.
    api._httpd.socket.listen(512)
    port = api._httpd.server_address[1]
    endpoint = f"http://127.0.0.1:{port}"
    _wait_until_ready(endpoint, GCS_BUCKET, timeout=15)
    saved = {
        k: os.environ.get(k) for k in ("STORAGE_EMULATOR_HOST", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT")
    }
    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    original_read_data = emulator_server._read_data
    emulator_server._read_data = _binary_safe_multipart(emulator_server, original_read_data)
    try:
        yield {
            "bucket": GCS_BUCKET,
            "endpoint": endpoint,
            "storage_options": {"token": "anon", "endpoint_url": endpoint},
        }
    finally:
        server.stop()
        emulator_server._read_data = original_read_data
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
