"""Object-store emulators that behave like the real services where streamvis relies on it.

Used by the tests (``tests/storage/conftest.py``) and ``benchmarks/storage_bench.py``;
both need the extras of the ``test`` and ``s3``/``gcs`` groups installed.

* ``gcs_emulator()``: ``gcp-storage-emulator`` in this process. Its handlers are wrapped
  so that listings behave like GCS (pages of at most 1,000 items, ``startOffset``,
  ``endOffset``, ``maxResults``, ``pageToken`` and the ``fields`` projection honoured)
  and uploads honour ``ifGenerationMatch`` (412 when it fails; ``0`` means "absent",
  the exclusive create), multipart bodies keep their bytes exactly, and a write costs
  O(1) (the emulator re-serialised all metadata on each one).
* ``s3_server()``: moto's S3 server in a thread of this process (``moto[server]``),
  which pages ListObjectsV2 at 1,000 keys and honours ``StartAfter`` and
  ``If-None-Match`` itself.

Both bind 127.0.0.1 on a port the OS picks, count every request they answer in a
``RequestCounter`` (requests by kind, bytes of listings and of object reads), and are
stopped on leaving the ``with`` block, whatever happens inside it.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import functools
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = ["RequestCounter", "Emulator", "gcs_emulator", "s3_server", "GCS_PAGE", "S3_PAGE"]

GCS_PAGE = 1000  # GCS objects.list pages at most 1,000 items
S3_PAGE = 1000  # ListObjectsV2 returns at most 1,000 keys


@dataclass
class RequestCounter:
    """Requests an emulator answered, by kind, with the bytes of listings and reads.

    Kinds: ``list``, ``get`` (object bytes), ``head`` (metadata), ``put``, ``delete``,
    ``other``. Thread-safe; ``snapshot()`` and ``since(snap)`` give differences.
    """

    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, nbytes: int) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.counts["requests"] += 1
            if kind == "list":
                self.counts["bytes_listed"] += nbytes
            elif kind == "get":
                self.counts["bytes_read"] += nbytes

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def since(self, snap: Counter[str]) -> Counter[str]:
        """What was counted after ``snap`` (a ``snapshot()``)."""
        now = self.snapshot()
        return Counter({k: now[k] - snap.get(k, 0) for k in now if now[k] - snap.get(k, 0)})


@dataclass
class Emulator:
    """A running emulator: its URL scheme, bucket, endpoint, fsspec options, counter."""

    scheme: str  # "gs" or "s3"
    bucket: str
    endpoint: str
    storage_options: dict[str, Any]
    counter: RequestCounter
    # writes {bucket/key: bytes} straight into the emulator's store (uncounted): builds
    # big logs for tests and benchmarks in seconds instead of one request each
    bulk_put: Any = None

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.bucket}/{path}"


# -- GCS ------------------------------------------------------------------------------------
def _wait_until_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = exc
        except (urllib.error.URLError, OSError) as exc:  # not up yet
            last = exc
        time.sleep(0.02)
    raise RuntimeError(f"the emulator at {url} did not become ready: {last}")


def _binary_safe_multipart(emulator_server: Any, original: Any) -> Any:
    """Parse ``multipart/related`` upload bodies by hand, keeping their bytes exactly.

    The emulator uses ``email``'s parser, which takes the line break before a boundary
    to be CRLF when the payload ends in CR: gcsfs delimits with LF, so a payload ending
    in ``0x0D`` (1 segment in 256: its last CRC byte) lost that byte.
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


def _q(request: Any, key: str) -> str | None:
    values = request.query.get(key)
    return values[0] if values else None


def _project(item: dict[str, Any], spec: str | None) -> dict[str, Any]:
    """The ``fields=items(a,b)`` projection of one listed item (GCS answers only those)."""
    if not spec or "items(" not in spec:
        return item
    inner = spec.split("items(", 1)[1].split(")", 1)[0]
    keep = {f.strip() for f in inner.split(",")}
    return {k: v for k, v in item.items() if k in keep}


def _gcs_ls(original: Any) -> Any:
    """objects.list as GCS answers it: startOffset/endOffset, pages, fields."""

    def ls(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> None:
        start, end = _q(request, "startOffset"), _q(request, "endOffset")
        token = _q(request, "pageToken")
        after = base64.urlsafe_b64decode(token.encode()).decode() if token else None
        limit = min(int(_q(request, "maxResults") or GCS_PAGE), GCS_PAGE)
        entries = _plain_listing(request, storage, start, after)
        if entries is None:
            original(request, response, storage, *args, **kwargs)
            if response.status != HTTPStatus.OK:
                return
            doc = json.loads(response._content)
            entries = [("i", it["name"], it) for it in doc.get("items") or []]
            entries += [("p", p, p) for p in doc.get("prefixes") or []]
        entries.sort(key=lambda e: e[1])
        entries = [
            e
            for e in entries
            if (start is None or e[1] >= start)
            and (end is None or e[1] < end)
            and (after is None or e[1] > after)
        ]
        page, rest = entries[:limit], entries[limit:]
        spec = _q(request, "fields")
        out: dict[str, Any] = {"kind": "storage#objects"}
        items = [_project(e[2], spec) for e in page if e[0] == "i"]
        prefixes = [e[2] for e in page if e[0] == "p"]
        if items or not spec:
            out["items"] = items
        if prefixes:
            out["prefixes"] = prefixes
        if rest:
            out["nextPageToken"] = base64.urlsafe_b64encode(page[-1][1].encode()).decode()
        response.json(out)

    return ls


def _plain_listing(request: Any, storage: Any, start: str | None, after: str | None
                   ) -> list[tuple[str, str, Any]] | None:
    """A listing without delimiter or glob, from the first name at or past ``start``
    (and past ``after``) on, at most two pages' worth: as GCS answers it, in time that
    follows the page, not the bucket. The emulator's own serialises every object under
    the prefix on each call, so a 20,000-segment log made each listing cost ~0.3 s.
    None: not such a listing (the emulator's own answers it)."""
    if _q(request, "delimiter") or _q(request, "matchGlob") or _q(request, "softDeleted"):
        return None
    objects = storage.objects.get(request.params["bucket_name"])
    if objects is None:
        return None
    prefix = _q(request, "prefix") or ""
    names = sorted(n for n in objects if n.startswith(prefix))
    lo = bisect.bisect_left(names, max(start or "", prefix))
    if after is not None:
        lo = max(lo, bisect.bisect_right(names, after))
    return [("i", n, objects[n]) for n in names[lo:lo + 2 * GCS_PAGE]]


def _upload_name(request: Any) -> str | None:
    name = _q(request, "name")
    if name is None and isinstance(request.data, dict):
        name = (request.data.get("meta") or {}).get("name")
    return name


def _gcs_insert(original: Any) -> Any:
    """Uploads that honour ``ifGenerationMatch`` (the emulator serves one request at a
    time, so check-then-create is atomic here, as the precondition is on GCS)."""

    def insert(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> Any:
        want = _q(request, "ifGenerationMatch")
        if want is not None and "upload_id" not in request.query:
            name = _upload_name(request)
            try:
                current = str(storage.get_file_obj(request.params["bucket_name"], name)["generation"])
            except Exception:
                current = "0"
            if current != str(want):
                _ = request.data  # read the body, so the connection stays usable
                response.status = HTTPStatus.PRECONDITION_FAILED
                response.json({"error": {"code": 412, "message": "Precondition Failed"}})
                return None
        return original(request, response, storage, *args, **kwargs)

    return insert


def _gcs_kind(method: str, path: str, query: str) -> str:
    if method == "GET":
        if path.rstrip("/").endswith("/o"):
            return "list"
        if "alt=media" in query or path.startswith("/download/"):
            return "get"
        return "head"
    if method in ("POST", "PUT"):
        return "put" if ("uploadType" in query or "upload_id" in query or method == "PUT") else "other"
    if method == "DELETE":
        return "delete"
    return "other"


@contextlib.contextmanager
def gcs_emulator(bucket: str = "streamvis-test") -> Iterator[Emulator]:
    """``gcp-storage-emulator`` behaving like GCS for listings and preconditions."""
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    from gcp_storage_emulator import server as emulator_server
    from gcp_storage_emulator.handlers import objects

    counter = RequestCounter()
    wrapped = {objects.ls: _gcs_ls(objects.ls), objects.insert: _gcs_insert(objects.insert)}
    saved_handlers: list[tuple[dict[Any, Any], Any, Any]] = []
    for _, handlers in emulator_server.HANDLERS:
        for method, fn in list(handlers.items()):
            if fn in wrapped:
                saved_handlers.append((handlers, method, fn))
                handlers[method] = wrapped[fn]
    original_read_data = emulator_server._read_data
    emulator_server._read_data = _binary_safe_multipart(emulator_server, original_read_data)
    original_close = emulator_server.Response.close

    def counting_close(response: Any) -> None:
        handler = response._handler
        path, _, query = handler.path.partition("?")
        content = response._content
        size = len(content.encode() if isinstance(content, str) else content or b"")
        counter.add(_gcs_kind(handler.command, path, query), size)
        original_close(response)

    emulator_server.Response.close = counting_close
    server = None
    saved_env = {
        k: os.environ.get(k) for k in ("STORAGE_EMULATOR_HOST", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT")
    }
    try:
        server = emulator_server.create_server("127.0.0.1", 0, in_memory=True, default_bucket=bucket)
        # In memory, the emulator still re-serialises every object's metadata to JSON on
        # each write (persistence for a restart): O(objects) per PUT, so a 20,000-segment
        # log took minutes. GCS writes in O(1); so does this fixture.
        server._storage._write_config_to_file = lambda: None
        api = server._api
        api.daemon = True
        api.start()
        if not api.is_running.wait(timeout=15):
            raise RuntimeError("the GCS emulator thread did not start")
        # one request at a time with a listen backlog of 5: concurrent fetches would see
        # dropped connections (~1 s retransmits); a deeper backlog keeps them queued
        api._httpd.socket.listen(512)
        endpoint = f"http://127.0.0.1:{api._httpd.server_address[1]}"
        _wait_until_ready(f"{endpoint}/storage/v1/b/{bucket}", timeout=15)
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint
        os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
        counter.counts.clear()

        def bulk_put(blobs: dict[str, bytes]) -> None:
            for path, data in blobs.items():
                b, _, key = path.partition("/")
                obj = objects._make_object_resource(
                    endpoint, b, key, "application/octet-stream", str(len(data))
                )
                server._storage.create_file(b, key, data, objects._checksums(data, obj))

        yield Emulator(
            "gs", bucket, endpoint, {"token": "anon", "endpoint_url": endpoint}, counter, bulk_put
        )
    finally:
        if server is not None:
            server.stop()
        emulator_server.Response.close = original_close
        emulator_server._read_data = original_read_data
        for handlers, method, fn in saved_handlers:
            handlers[method] = fn
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- S3 -------------------------------------------------------------------------------------
def _s3_kind(method: str, query: str, path: str) -> str:
    if method == "GET":
        if "list-type" in query or path.count("/") <= 1:
            return "list"
        return "get"
    if method == "HEAD":
        return "head"
    if method == "PUT":
        return "put"
    if method == "DELETE" or (method == "POST" and "delete" in query):
        return "delete"
    return "other"


class _CountingApp:
    """WSGI middleware counting requests and response bytes."""

    def __init__(self, app: Any, counter: RequestCounter) -> None:
        self.app = app
        self.counter = counter

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        kind = _s3_kind(
            environ.get("REQUEST_METHOD", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("PATH_INFO", ""),
        )
        body = b"".join(self.app(environ, start_response))
        self.counter.add(kind, len(body))
        return [body]


@contextlib.contextmanager
def s3_server(bucket: str = "streamvis-test") -> Iterator[Emulator]:
    """moto's S3 server on 127.0.0.1 (a free port), with one bucket."""
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    # Every S3FileSystem (a test's writers each have their own) starts a botocore session,
    # and each session parsed botocore's service models from JSON again: a quarter of an
    # S3 test's time. One loader for every session in this process, as one session's
    # clients share it; requests are unchanged.
    import botocore.loaders
    import botocore.session

    original_loader = botocore.session.create_loader
    botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)
    counter = RequestCounter()
    app = _CountingApp(DomainDispatcherApplication(create_backend_app), counter)
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
        _wait_until_ready(f"{endpoint}/", timeout=15)
        req = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
        urllib.request.urlopen(req, timeout=10).close()
        counter.counts.clear()
        options = {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        from moto.s3.models import s3_backends

        def bulk_put(blobs: dict[str, bytes]) -> None:
            backend = s3_backends["123456789012"]["global"]
            for path, data in blobs.items():
                b, _, key = path.partition("/")
                backend.put_object(b, key, data)

        yield Emulator("s3", bucket, endpoint, options, counter, bulk_put)
    finally:
        botocore.session.create_loader = original_loader
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# -- building big logs fast -------------------------------------------------------------------
def write_segment_log(
    url: str,
    storage_options: dict[str, Any] | None,
    segments: int,
    *,
    points: int = 200,
    spacing_ns: int = 200_000_000,
    t0_ns: int | None = None,
    writer: bytes = b"\x5e" * 8,
    put: Any = None,
) -> int:
    """Create a log of ``segments`` one-batch segments as a logger would leave them
    (``points`` scalar points each, names ``spacing_ns`` apart in time: a 1 kHz logger
    flushing every 0.2 s by default), uploaded concurrently (or by ``put``, e.g. an
    ``Emulator.bulk_put``). Returns the last segment's time."""
    import numpy as np

    from streamvis.storage.format.framing import encode_frame
    from streamvis.storage.format.model import Points
    from streamvis.storage.format.records import encode_batch, header_payload, normalize_items
    from streamvis.storage.objects.segments import SegmentLog, segment_name

    log = SegmentLog(url, storage_options or {})
    log.create(encode_frame(header_payload(os.urandom(16), 1)))
    t0 = t0_ns if t0_ns is not None else time.time_ns() - segments * spacing_ns
    blobs: dict[str, bytes] = {}
    for i in range(segments):
        x = np.arange(i * points, (i + 1) * points, dtype=np.int64)
        item = Points("run", "loss", 0, {"x": x, "y": (x * 0.5).astype(np.float32)})
        frames = [encode_frame(r.payload) for r in encode_batch(normalize_items([item]), writer, i + 1)]
        name = segment_name(t0 + i * spacing_ns, writer.hex(), i + 1)
        blobs[f"{log.segments_dir}/{name}"] = b"".join(frames)
        if len(blobs) >= 500:
            (put or log.prefix.fs.pipe)(blobs)
            blobs = {}
    if blobs:
        (put or log.prefix.fs.pipe)(blobs)
    return t0 + (segments - 1) * spacing_ns
