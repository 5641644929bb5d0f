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

from typing import Any

__all__ = ["list_names"]

_PAGE = 1000


def _kind(fs: Any) -> str:
    for cls in type(fs).__mro__:
        if cls.__name__ == "GCSFileSystem":
            return "gcs"
        if cls.__name__ == "S3FileSystem":
            return "s3"
    return "other"


def list_names(fs: Any, directory: str, start: str = "") -> list[str]:
    """Names of the objects directly under ``directory`` that sort at or after ``start``,
    sorted. ``FileNotFoundError`` when the bucket does not exist; an empty list when
    nothing is there. A wrapper filesystem may offer its own ``list_names``."""
    own = getattr(fs, "list_names", None)
    if callable(own):
        return list(own(directory, start))
    kind = _kind(fs)
    if kind == "gcs":
        return _gcs(fs, directory, start)
    if kind == "s3":
        return _s3(fs, directory, start)
    try:
        paths = fs.ls(directory, detail=False)
    except FileNotFoundError:
        return []
    names = (p.rstrip("/").rsplit("/", 1)[-1] for p in paths)
    return sorted(n for n in names if n >= start)


def _gcs(fs: Any, directory: str, start: str) -> list[str]:
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
        if not token:
            return sorted(out)
        params["pageToken"] = token


def _s3(fs: Any, directory: str, start: str) -> list[str]:
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
        if not page.get("IsTruncated") or not token:
            return sorted(out)
        params["ContinuationToken"] = token
