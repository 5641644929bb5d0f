"""The emulator fixtures behave like GCS and S3 where streamvis relies on it."""

from __future__ import annotations

import uuid
from typing import Any

import fsspec
import pytest

pytestmark = pytest.mark.timeout(120)


def _fs(emu: dict[str, Any]) -> Any:
    return fsspec.filesystem(emu["scheme"], skip_instance_cache=True, **emu["storage_options"])


def _gcs_list(fs: Any, bucket: str, **params: Any) -> dict[str, Any]:
    from fsspec.asyn import sync

    return sync(fs.loop, fs._call, "GET", "b/{}/o", bucket, json_out=True, **params)


def test_gcs_listings_page_at_1000_and_honour_start_offset(gcs_emulator) -> None:
    fs = _fs(gcs_emulator)
    bucket, prefix = gcs_emulator["bucket"], f"page-{uuid.uuid4().hex}/"
    gcs_emulator["bulk_put"]({f"{bucket}/{prefix}{i:05d}": b"x" for i in range(1005)})
    counter = gcs_emulator["counter"]
    snap = counter.snapshot()
    page = _gcs_list(fs, bucket, prefix=prefix, maxResults=5000)
    assert len(page["items"]) == 1000 and "nextPageToken" in page
    rest = _gcs_list(fs, bucket, prefix=prefix, pageToken=page["nextPageToken"])
    assert [i["name"] for i in rest["items"]] == [f"{prefix}{i:05d}" for i in range(1000, 1005)]
    assert "nextPageToken" not in rest
    tail = _gcs_list(fs, bucket, prefix=prefix, startOffset=f"{prefix}01003", fields="items(name)")
    assert tail["items"] == [{"name": f"{prefix}01003"}, {"name": f"{prefix}01004"}]
    spent = counter.since(snap)
    assert spent["list"] == 3 and spent["bytes_listed"] > 100_000  # the first page is big
    assert len(fs.ls(f"{bucket}/{prefix}", detail=False)) == 1005  # gcsfs follows the pages


def test_gcs_exclusive_create_is_refused_when_the_object_exists(gcs_emulator) -> None:
    fs = _fs(gcs_emulator)
    path = f"{gcs_emulator['bucket']}/excl-{uuid.uuid4().hex}"
    fs.pipe_file(path, b"first", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"second", mode="create")
    assert fs.cat_file(path) == b"first"


def test_s3_listings_page_at_1000_start_after_and_exclusive_create(s3_emulator) -> None:
    from fsspec.asyn import sync

    fs = _fs(s3_emulator)
    bucket, prefix = s3_emulator["bucket"], f"page-{uuid.uuid4().hex}/"
    s3_emulator["bulk_put"]({f"{bucket}/{prefix}{i:05d}": b"x" for i in range(1003)})
    page = sync(fs.loop, fs._call_s3, "list_objects_v2", Bucket=bucket, Prefix=prefix)
    assert page["KeyCount"] == 1000 and page["IsTruncated"]
    tail = sync(
        fs.loop, fs._call_s3, "list_objects_v2", Bucket=bucket, Prefix=prefix,
        StartAfter=f"{prefix}01000",
    )
    assert [c["Key"] for c in tail["Contents"]] == [f"{prefix}01001", f"{prefix}01002"]
    path = f"{bucket}/{prefix}excl"
    fs.pipe_file(path, b"first", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"second", mode="create")
    assert fs.cat_file(path) == b"first"
    assert s3_emulator["counter"].snapshot()["list"] >= 2
