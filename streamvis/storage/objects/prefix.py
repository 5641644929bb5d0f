"""``ObjectPrefix``: the objects under one log prefix, and reading them at low cost.

Names (``segment_name``, ``manifest_name``), the filesystem set-up (listing caches
off: gcsfs and s3fs would otherwise cache listings forever; MD5 checks of uploads on
GCS), the checks before a log is created (a missing bucket, a prefix holding other
objects: refused, nothing written), and reads: whole objects and ranges through a
``ByteCache``, ranged reads shorter than ``READ_AHEAD`` reading ahead so that a
record's length probe and the record are one GET, and listing segment names.
Each ``SegmentLog`` owns one.

Keys: a segment's key is its name (``U/segments/NAME``); a key with a slash is a path
under the prefix (``bases/...``, written by compaction).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from streamvis.errors import InvalidArgumentError, LogNotFoundError, StorageIOError
from streamvis.storage.objects.byte_cache import ByteCache
from streamvis.storage.objects.listing import list_names

__all__ = [
    "ObjectPrefix",
    "segment_name",
    "parse_segment_name",
    "manifest_name",
    "parse_manifest_name",
    "filesystem",
    "READ_AHEAD",
    "FETCH_BATCH",
]

_NAME = re.compile(r"^(\d{20})-([0-9a-f]*)-(\d{12,})$")
_MANIFEST = re.compile(r"^~gen-(\d{12})$")  # sorts after every segment: in every listing
FETCH_BATCH = 64  # objects fetched concurrently per request batch
READ_AHEAD = 64 << 10  # ranged reads shorter than this fetch this much (one GET)

Listed = tuple[str, str, int]  # (name, writer hex, seq)


def segment_name(t: int, writer: str, seq: int) -> str:
    return f"{t:020d}-{writer}-{seq:012d}"


def manifest_name(generation: int) -> str:
    return f"~gen-{generation:012d}"


def parse_manifest_name(name: str) -> int | None:
    """The generation of a manifest's name, None for anything else."""
    m = _MANIFEST.match(name)
    return int(m.group(1)) if m else None


def parse_segment_name(name: str) -> tuple[int, str, int] | None:
    """(time, writer, seq) of a segment's name, None for anything else."""
    m = _NAME.match(name.rsplit("/", 1)[-1])
    return (int(m.group(1)), m.group(2), int(m.group(3))) if m else None


def filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    import fsspec

    protocol = url.split("://", 1)[0]
    opts = dict(storage_options)
    if protocol in ("gs", "gcs"):
        if "gcsfs" not in sys.modules and (
            os.environ.get("STORAGE_EMULATOR_HOST") or opts.get("endpoint_url")
        ):
            # gcsfs's experimental bucket-type probe stalls ~60 s per access on emulators
            os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        opts.setdefault("use_listings_cache", False)
        opts.setdefault("consistency", "md5")  # check each upload's MD5 in GCS's answer
    elif protocol in ("s3", "s3a"):
        opts.setdefault("use_listings_cache", False)
    fs, path = fsspec.core.url_to_fs(url, **opts)
    return fs, path.rstrip("/")


class ObjectPrefix:
    """The objects of one log: paths, cached reads, creation checks, the index."""

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        fs: Any = None,
        cache_bytes: int = 32 << 20,
    ) -> None:
        self.url = url.rstrip("/")
        if fs is None:
            fs, root = filesystem(self.url, storage_options or {})
        else:
            root = fs._strip_protocol(self.url).rstrip("/")
        self.fs = fs
        self.root = root
        self.header_path = f"{root}/header"
        self.segments_dir = f"{root}/segments"
        self.bases_dir = f"{root}/bases"
        self.index_path = f"{root}/index.arrow"
        self.cache = ByteCache(cache_bytes)
        self.fetch_batch = FETCH_BATCH  # objects fetched at once (background work: fewer)
        self.header: bytes | None = None

    # -- helpers -----------------------------------------------------------------------
    def io_error(self, exc: Exception, doing: str) -> StorageIOError:
        text = f"{exc.__class__.__name__}: {exc}"
        if "credential" in text.lower() or isinstance(exc, PermissionError):
            text += " (give credentials the usual gcsfs/s3fs way, or storage_options=)"
        return StorageIOError(f"{doing} on {self.url} failed: {text}")

    def _invalidate(self, path: str) -> None:
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)

    def path_of(self, key: str) -> str:
        return f"{self.root}/{key}" if "/" in key else f"{self.segments_dir}/{key}"

    def list_segments(self, start_t: int, doing: str) -> list[str]:
        """Names under ``segments/`` from time ``start_t`` on (all when 0), paged."""
        try:
            return list_names(self.fs, self.segments_dir, f"{start_t:020d}" if start_t else "")
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self.io_error(exc, doing) from exc

    def exists(self) -> bool:
        try:
            self.header = bytes(self.fs.cat_file(self.header_path, start=0, end=None))
            return True
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self.io_error(exc, "reading the header") from exc

    def create(self, header_frame: bytes) -> None:
        """Create the header, unless one exists; refuse a missing bucket or a prefix
        that holds other objects (nothing is written then)."""
        if self.exists():  # also where create is check-then-write
            return
        foreign = self._foreign_objects()
        if foreign:
            raise InvalidArgumentError(
                f"cannot create a streamvis log at {self.url}: the prefix holds "
                f"{len(foreign)} object(s) that are not a streamvis log (e.g. {foreign[0]!r}); "
                "choose an empty prefix"
            )
        try:
            self.fs.pipe_file(self.header_path, header_frame, mode="create")
        except FileExistsError:
            pass  # someone created the log first: keep theirs
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"cannot create log {self.url}: {self.missing_reason()}") from exc
        except Exception as exc:
            raise self.io_error(exc, "creating the header") from exc
        self._invalidate(self.root)

    def _bucket(self) -> str:
        return self.root.split("/", 1)[0]

    def _foreign_objects(self) -> list[str]:
        """Objects under the log's prefix that a streamvis log does not hold."""
        try:
            paths = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self.io_error(exc, "listing the prefix") from exc
        ours = {"header", "segments", "index.arrow", "bases"}
        return sorted(
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in paths
            if p.rstrip("/").rsplit("/", 1)[-1] not in ours
        )

    def missing_reason(self) -> str:
        """Names what is wrong: no bucket, other objects, or simply no log."""
        bucket = self._bucket()
        try:
            if "://" in self.url and not self.url.startswith("memory://"):
                if not self.fs.exists(bucket):
                    return f"the bucket {bucket!r} of {self.url} does not exist"
            foreign = self._foreign_objects()
        except Exception as exc:  # permissions, network: say what was tried
            return f"no streamvis log at {self.url} ({exc.__class__.__name__}: {exc})"
        if foreign:
            return (
                f"no streamvis log at {self.url}: the prefix holds {len(foreign)} object(s) "
                f"that are not one (e.g. {foreign[0]!r}) and no header"
            )
        return f"no streamvis log at {self.url}"

    def read(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        hit = self.cache.get(key, offset, length)
        if hit is not None:
            return hit
        fetch = max(length, READ_AHEAD)
        try:  # explicit start and end: emulators answer a suffix range with everything
            data = bytes(self.fs.cat_file(self.path_of(key), start=offset, end=offset + fetch))
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"segment {key} of {self.url} is gone (compaction?)") from exc
        except Exception as exc:
            raise self.io_error(exc, f"reading segment {key}") from exc
        self.cache.put(key, data, offset, whole=offset == 0 and len(data) < fetch)
        return data[:length]

    def read_many(self, ranges: list[tuple[str, int, int]]) -> list[bytes]:
        """``read`` for many (key, offset, length) at once, fetched concurrently."""
        out: list[bytes | None] = [self.cache.get(k, o, n) for k, o, n in ranges]
        todo = [i for i, hit in enumerate(out) if hit is None]
        for j in range(0, len(todo), FETCH_BATCH):
            part = [ranges[i] for i in todo[j : j + FETCH_BATCH]]
            paths = [self.path_of(k) for k, _, _ in part]
            try:
                blobs = self.fs.cat_ranges(
                    paths, [o for _, o, _ in part], [o + n for _, o, n in part], on_error="raise"
                )
            except FileNotFoundError as exc:
                raise LogNotFoundError(f"a segment of {self.url} is gone (compaction?)") from exc
            except Exception as exc:
                raise self.io_error(exc, "reading segments") from exc
            for i, blob in zip(todo[j : j + FETCH_BATCH], blobs, strict=True):
                out[i] = bytes(blob)
        return [b if b is not None else b"" for b in out]

    def fetch_whole(self, names: list[str]) -> Iterator[tuple[str, bytes]]:
        """Whole segments by name, in order: those not cached fetched concurrently,
        ``fetch_batch`` at a time (bounded), one GET each."""
        missing = [n for n in names if self.cache.whole(n) is None]
        for i in range(0, len(missing), self.fetch_batch):
            part = missing[i : i + self.fetch_batch]
            paths = [self.path_of(name) for name in part]
            try:
                # start 0, no end: one GET (s3fs asks the size first when given neither)
                blobs = self.fs.cat_ranges(paths, [0] * len(paths), None, on_error="raise")
            except FileNotFoundError as exc:
                raise LogNotFoundError(
                    f"a segment of {self.url} vanished (compaction?): {exc}"
                ) from exc
            except Exception as exc:
                raise self.io_error(exc, "reading segments") from exc
            for name, data in zip(part, blobs, strict=True):
                self.cache.put(name, bytes(data), whole=True)
        for name in names:
            data = self.cache.whole(name)
            if data is None:  # dropped by the LRU meanwhile (a huge batch)
                data = self.read_object(name)
            yield name, data

    def read_object(self, name: str) -> bytes:
        try:
            return bytes(self.fs.cat_file(self.path_of(name), start=0, end=None))
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"segment {name} of {self.url} is gone (compaction?)") from exc
        except Exception as exc:
            raise self.io_error(exc, f"reading segment {name}") from exc

    def peek(self, path: str) -> bytes | None:
        """The object's bytes, or None when it is missing or unreadable."""
        try:
            return bytes(self.fs.cat_file(path, start=0, end=None))
        except Exception:
            return None

    def read_json(self, key: str) -> Any:
        """A small JSON object (a manifest); None when it is missing."""
        try:
            return json.loads(self.read_object(key))
        except LogNotFoundError:
            return None
        except ValueError as exc:
            raise StorageIOError(f"{key} of {self.url} is not JSON: {exc}") from exc

    def create_object(self, key: str, data: bytes) -> bool:
        """Create ``key`` exclusively; False when it exists already."""
        try:
            self.fs.pipe_file(self.path_of(key), data, mode="create")
        except FileExistsError:
            return False
        except Exception as exc:
            raise self.io_error(exc, f"writing {key}") from exc
        self.cache.put(key, data, whole=True)
        return True

    def remove(self, keys: list[str]) -> None:
        """Delete objects (missing ones are fine)."""
        paths = [self.path_of(k) for k in keys]
        for i in range(0, len(paths), 1000):
            try:
                self.fs.rm(paths[i : i + 1000])
            except FileNotFoundError:
                pass
            except Exception as exc:
                raise self.io_error(exc, "deleting retired objects") from exc

    # -- index -----------------------------------------------------------------------
    def read_index(self) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self.index_path, start=0, end=None))
        except FileNotFoundError:
            return None
        except Exception:
            return None  # the index is a cache: rebuild from the log

    def write_index(self, data: bytes) -> None:
        try:
            self.fs.pipe_file(self.index_path, data)  # one object, replaced whole
        except Exception as exc:
            raise self.io_error(exc, "writing the index") from exc
