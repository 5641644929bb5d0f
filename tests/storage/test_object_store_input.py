"""Read-only opens never write on object stores; bad URLs fail clearly, writing nothing."""

from __future__ import annotations

import uuid
from typing import Any

import fsspec
import numpy as np
import pytest

from streamvis.errors import InvalidArgumentError, LogNotFoundError, StorageIOError
from streamvis.storage import Points, Store
from streamvis.storage.local.log_file import LocalLog
from streamvis.testing.object_stores import write_segment_log

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["gs", "s3"])
def emu(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")


def _fs(emu: dict[str, Any]) -> Any:
    return fsspec.filesystem(emu["scheme"], skip_instance_cache=True, **emu["storage_options"])


def _url(emu: dict[str, Any], bucket: str | None = None) -> str:
    return f"{emu['scheme']}://{bucket or emu['bucket']}/{uuid.uuid4().hex}/runs.log"


def test_read_only_open_of_a_log_without_index_writes_nothing(emu) -> None:
    url = _url(emu)
    write_segment_log(url, emu["storage_options"], 150, points=4000)  # > 1 MB to scan
    counter = emu["counter"]
    snap = counter.snapshot()
    with Store.open(url, storage_options=emu["storage_options"]) as r:
        assert r.read().num_points == 150 * 4000
        r.refresh()
    spent = counter.since(snap)
    assert spent["put"] == 0 and spent["delete"] == 0, spent
    root = _fs(emu)._strip_protocol(url)
    assert not _fs(emu).exists(f"{root}/index.arrow")


def test_a_local_reader_writes_the_index_where_it_may_and_never_fails_for_it(
    tmp_path, monkeypatch
) -> None:
    path = str(tmp_path / "runs.svl")
    x = np.arange(300_000, dtype=np.int64)
    with Store.open(path, "a") as w:
        w.append([Points("run", "loss", 0, {"x": x, "y": np.sin(x).astype(np.float64)})])
    (tmp_path / "runs.svl.idx").unlink()
    with Store.open(path) as r:
        assert r.read().num_points == 300_000
    assert (tmp_path / "runs.svl.idx").exists()  # allowed: the reader saved the index
    (tmp_path / "runs.svl.idx").unlink()

    def refused(self: LocalLog, data: bytes) -> None:
        raise StorageIOError(f"writing index {self.index_path} failed: Permission denied")

    monkeypatch.setattr(LocalLog, "write_index", refused)
    with Store.open(path) as r:
        assert r.read().num_points == 300_000


def test_a_bucket_that_does_not_exist_is_named_and_nothing_is_created(emu) -> None:
    bucket = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    url = _url(emu, bucket)
    with pytest.raises(LogNotFoundError, match=f"bucket '{bucket}'.*{url}"):
        Store.open(url, storage_options=emu["storage_options"])
    with pytest.raises(LogNotFoundError, match=f"{url}.*bucket '{bucket}'"):
        Store.open(url, "a", storage_options=emu["storage_options"])
    assert not _fs(emu).exists(bucket)


def test_a_prefix_holding_other_objects_is_refused_and_left_alone(emu) -> None:
    url = _url(emu)
    fs = _fs(emu)
    root = fs._strip_protocol(url)
    fs.pipe_file(f"{root}/results.csv", b"a,b\n1,2\n")
    with pytest.raises(InvalidArgumentError, match=f"{url}.*'results.csv'"):
        Store.open(url, "a", storage_options=emu["storage_options"])
    with pytest.raises(LogNotFoundError, match=f"{url}.*not one.*'results.csv'"):
        Store.open(url, storage_options=emu["storage_options"])
    assert fs.ls(root, detail=False) == [f"{root}/results.csv"]


def test_missing_credentials_are_a_clear_error_naming_the_url(s3_emulator, monkeypatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url = _url(s3_emulator)
    options = {"client_kwargs": dict(s3_emulator["storage_options"]["client_kwargs"]),
               "skip_instance_cache": True}
    for mode in ("r", "a"):
        with pytest.raises(StorageIOError, match=f"{url}.*credentials"):
            Store.open(url, mode, storage_options=options)  # type: ignore[arg-type]
