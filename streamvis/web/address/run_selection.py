"""A set of runs as a short URL value: ``hide=`` / ``show=`` of a page link.

A sweep's 1,000 ticked runs do not fit in ``scopes=`` (patterns are capped at 4,096
characters, and a list of names would be longer still). The set is instead written
against the log's scopes in order of first appearance, which an append-only log only
ever extends: a bitmap over the first K scopes (K = one past the last run in the set),
zlib-compressed, base64url. A contiguous block of runs costs a few bytes; 1,000 runs
picked at random from 10,000 about 1,700 characters. Format::

    1.K.FINGERPRINT.DATA

FINGERPRINT (blake2b, 6 bytes, base64url) covers the names of those K scopes, so a
link opened after some of them were deleted (or on another log) is refused with a
message instead of selecting the wrong runs. Nothing is kept on the server: the link
is the whole selection, and works on any server that serves the same log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

from streamvis.errors import InvalidArgumentError

__all__ = ["RunSelectionError", "encode_runs", "decode_runs", "FORMAT"]

FORMAT = "1"
_MAX_DECOMPRESSED = 1 << 24  # 16M scopes' worth of bits: a forged value stops here


class RunSelectionError(InvalidArgumentError):
    """A ``hide=``/``show=`` value that does not select runs of this log."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _fingerprint(scopes: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=6)
    for s in scopes:
        h.update(s.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return _b64(h.digest())


def encode_runs(runs: Iterable[str], scopes: Sequence[str]) -> str:
    """``runs`` (each one of ``scopes``, the log's scopes in order of first
    appearance) as a URL-safe value. Runs not in ``scopes`` are left out."""
    where = {s: i for i, s in enumerate(scopes)}
    positions = sorted({where[r] for r in runs if r in where})
    k = positions[-1] + 1 if positions else 0
    bits = np.zeros(k, dtype=bool)
    bits[positions] = True
    data = zlib.compress(np.packbits(bits).tobytes(), 9)
    return f"{FORMAT}.{k}.{_fingerprint(scopes[:k])}.{_b64(data)}"


def decode_runs(text: str, scopes: Sequence[str], *, param: str = "hide") -> set[str]:
    """The runs ``text`` (from ``encode_runs``) names among ``scopes``. Raises
    RunSelectionError naming ``param`` when it is malformed or was made for other runs."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    parts = text.split(".")
    if len(parts) != 4 or parts[0] != FORMAT or not parts[1].isdigit():
        raise RunSelectionError(
            f"'{param}={shown}' is not a run selection: expected {FORMAT}.COUNT.FINGERPRINT.DATA "
            "as the page writes it into its address")
    k = int(parts[1])
    if k > len(scopes) or _fingerprint(scopes[:k]) != parts[2]:
        raise RunSelectionError(
            f"'{param}=' was made for other runs than this log has now (some of its first {k:,} "
            "runs were deleted, or the link is for another log); showing every run")
    try:
        z = zlib.decompressobj()
        packed = z.decompress(_unb64(parts[3]), _MAX_DECOMPRESSED)
        if z.unconsumed_tail or not z.eof:
            raise ValueError("cut short or too long")
    except (ValueError, binascii.Error, zlib.error) as exc:
        raise RunSelectionError(f"'{param}={shown}': its data does not decode ({exc})") from None
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8))[:k]
    return {scopes[i] for i in np.flatnonzero(bits).tolist()}
