"""Helpers shared by the test suites (import as ``from tests.helpers import wait_for``)."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01) -> object:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


def append_refused_records(path: str | os.PathLike[str], items: Sequence[Any]) -> None:
    """Append records today's writers refuse (a config past the limits), framed as an
    older streamvis wrote them, straight to the local log file at ``path``."""
    from streamvis.storage.format.framing import encode_frame
    from streamvis.storage.format.records import encode_batch

    frames = [encode_frame(r.payload) for r in encode_batch(list(items), os.urandom(16), 1)]
    with open(path, "ab") as f:
        f.write(b"".join(frames))


def self_signed_cert(directory: str | os.PathLike[str]) -> tuple[str, str]:
    """Write a self-signed certificate (its own CA) for localhost and 127.0.0.1 and its
    key into ``directory``; return (cert.pem, key.pem). Made at test time (cryptography)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class ChildProcesses:
    """Starts child processes and reaps every one (and whatever each one started).

    Each child gets its own session (process group), so reaping ends its own children
    too. Every child of every instance is also in ``ChildProcesses.started``; the
    autouse fixture of tests/conftest.py reaps, when a test ends on any path (pass,
    failure, pytest-timeout's signal method raising inside the test, Ctrl-C), every
    child started during it, and at the end of the session every child left; an
    atexit hook kills what a crashed session left. Helpers without the ``procs``
    fixture at hand start children with ``spawn``.
    """

    started: ClassVar[list[subprocess.Popen[Any]]] = []  # every instance's, in order

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen(args, **kwargs)`` in a new session, registered for reaping."""
        kwargs.setdefault("start_new_session", True)
        proc: subprocess.Popen[Any] = subprocess.Popen(args, **kwargs)
        self.procs.append(proc)
        ChildProcesses.started.append(proc)
        return proc

    def reap(self, grace: float = 5.0) -> None:
        """Reap this instance's children (see ``reap``)."""
        reap(self.procs, grace)
        self.procs.clear()


_SPAWNER = ChildProcesses()


def spawn(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a child like ``subprocess.Popen``, registered for reaping (see ChildProcesses)."""
    return _SPAWNER.popen(args, **kwargs)


def reap(procs: Sequence[subprocess.Popen[Any]], grace: float = 5.0) -> None:
    """SIGTERM each child's process group, SIGKILL what is left after ``grace`` s (also
    the group of a child that exited), wait for each, close its pipes."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
            pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if proc in ChildProcesses.started:
            ChildProcesses.started.remove(proc)


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # a session leader's pid is its group's id
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _reap_leftovers() -> None:
    for proc in list(ChildProcesses.started):
        _signal_group(proc, signal.SIGKILL)
