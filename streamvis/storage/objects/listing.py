"""Listing an object-store "directory" from a name on, at a cost that follows the answer.

fsspec's ``ls`` lists a whole prefix (and neither gcsfs nor s3fs passes a start
through it), so a log of 20,000 segments costs 20 requests and ~20 MB per refresh.
The list APIs can start anywhere: GCS ``objects.list`` takes ``startOffset`` (and a
``fields`` projection that cuts each item to its name, ~60 bytes instead of ~1 KB),
S3 ``ListObjectsV2`` takes ``StartAfter``. ``list_names`` uses them through the
filesystems' own clients (``GCSFileSystem._call``, ``S3FileSystem._call_s3``), so
credentials, retries and endpoints stay theirs, and falls back to ``ls`` and a filter
for any other filesystem (``memory://``, where listing costs nothing).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

__all__ = ["list_names", "FollowWindow"]

_PAGE = 1000


def _kind(fs: Any) -> str:
    for cls in type(fs).__mro__:
        if cls.__name__ == "GCSFileSystem":
            return "gcs"
        if cls.__name__ == "S3FileSystem":
            return "s3"
    return "other"


def list_names(fs: Any, directory: str, start: str = "", *, one_page: bool = False) -> list[str]:
    """Names of the objects directly under ``directory`` that sort at or after ``start``,
    sorted (``one_page``: the first page only, at most 1,000 names: one request).
    ``FileNotFoundError`` when the bucket does not exist; an empty list when nothing is
    there. A wrapper filesystem may offer its own ``list_names``."""
    own = getattr(fs, "list_names", None)
    if callable(own):
        return list(own(directory, start, one_page=one_page))
    kind = _kind(fs)
    if kind == "gcs":
        return _gcs(fs, directory, start, one_page)
    if kind == "s3":
        return _s3(fs, directory, start, one_page)
    try:
        paths = fs.ls(directory, detail=False)
    except FileNotFoundError:
        return []
    names = sorted(n for n in (p.rstrip("/").rsplit("/", 1)[-1] for p in paths) if n >= start)
    return names[:_PAGE] if one_page else names


def _gcs(fs: Any, directory: str, start: str, one_page: bool) -> list[str]:
    from fsspec.asyn import sync

    bucket, key = fs.split_path(directory)[:2]
    prefix = f"{key.rstrip('/')}/" if key else ""
    params: dict[str, Any] = {
        "prefix": prefix,
        "maxResults": _PAGE,
        "fields": "items(name),nextPageToken",
    }
    if start:
        params["startOffset"] = prefix + start
    out: list[str] = []
    while True:
        page = sync(fs.loop, fs._call, "GET", "b/{}/o", bucket, json_out=True, **params)
        for item in page.get("items") or []:
            rest = item["name"][len(prefix) :]
            if rest and "/" not in rest:
                out.append(rest)
        token = page.get("nextPageToken")
        if not token or one_page:
            return sorted(out)
        params["pageToken"] = token


def _s3(fs: Any, directory: str, start: str, one_page: bool) -> list[str]:
    from fsspec.asyn import sync

    bucket, key = fs.split_path(directory)[:2]
    prefix = f"{key.rstrip('/')}/" if key else ""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": _PAGE}
    if start:
        # StartAfter excludes that very key; our starts are prefixes of names, never names
        params["StartAfter"] = prefix + start
    out: list[str] = []
    while True:
        page = sync(fs.loop, fs._call_s3, "list_objects_v2", **params)
        for item in page.get("Contents") or []:
            rest = item["Key"][len(prefix) :]
            if rest and "/" not in rest:
                out.append(rest)
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token or one_page:
            return sorted(out)
        params["ContinuationToken"] = token


class FollowWindow:
    """Where a follower's next listing starts (docs/CONTRACTS.md, "Listing rule").

    ``listed(newest, deepest=...)`` after each complete listing (``newest``: the highest
    segment time seen so far; ``deepest``: the time of the ``depth``-th highest name that
    listing returned, 0 when it returned fewer). ``start(lookback)`` is the highest of
    ``newest - lookback``, the highest ``deepest`` seen, and the newest time seen by a
    listing at least ``hold_s`` (monotonic) before the previous one. So an active log is
    re-listed ``lookback`` of name time deep but never more than ``depth`` names deep,
    whatever the number of writers; once it has been idle for ``hold_s``, a listing
    starts at the newest name and returns only what is new.
    """

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.newest = 0
        self.deepest = 0
        self._history: deque[tuple[float, int]] = deque()  # (monotonic, newest then)

    def listed(self, newest: int, at: float | None = None, *, deepest: int = 0) -> None:
        self.newest = max(self.newest, newest)
        self.deepest = max(self.deepest, deepest)
        now = time.monotonic() if at is None else at
        self._history.append((now, self.newest))
        while len(self._history) > 1 and self._history[1][0] <= now - self.hold_s:
            self._history.popleft()  # keep one entry older than the hold, and the rest

    def start(self, lookback: int) -> int:
        released = 0
        if self._history:
            last = self._history[-1][0]
            for at, newest in self._history:
                if at > last - self.hold_s:
                    break
                released = newest
        return max(self.newest - lookback, self.deepest, released, 0)
