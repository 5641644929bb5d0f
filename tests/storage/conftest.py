"""Storage test fixtures: object-store emulators that behave like GCS and S3.

``gcs_emulator``: gcp-storage-emulator in this process, wrapped to page listings at
1,000 items, honour ``startOffset`` and ``ifGenerationMatch`` (see
``streamvis.testing.object_stores``). ``s3_emulator``: moto's S3 server on 127.0.0.1.
Both yield ``{"bucket", "endpoint", "storage_options", "counter", "scheme", "bulk_put"}``
and are
stopped at the end of the session, whatever happens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# gcsfs reads this when it is imported: with its experimental bucket-type probe on,
# every access to an emulator stalls ~60 s. Set it before any test imports gcsfs.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

GCS_BUCKET = "streamvis-test"
S3_BUCKET = "streamvis-test"


def _as_dict(emu: Any) -> dict[str, Any]:
    return {
        "scheme": emu.scheme,
        "bucket": emu.bucket,
        "endpoint": emu.endpoint,
        "storage_options": emu.storage_options,
        "counter": emu.counter,
        "bulk_put": emu.bulk_put,  # {bucket/key: bytes} straight into the store, uncounted
    }


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[dict[str, Any]]:
    """A running GCS emulator with one bucket (anonymous gcsfs options)."""
    from streamvis.testing.object_stores import gcs_emulator as start

    with start(GCS_BUCKET) as emu:
        yield _as_dict(emu)


@pytest.fixture(scope="session")
def s3_emulator() -> Iterator[dict[str, Any]]:
    """moto's S3 server on 127.0.0.1 (a free port) with one bucket (s3fs options)."""
    pytest.importorskip("moto")
    pytest.importorskip("s3fs")
    from streamvis.testing.object_stores import s3_server

    with s3_server(S3_BUCKET) as emu:
        yield _as_dict(emu)
