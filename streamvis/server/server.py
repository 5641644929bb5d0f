"""Start and stop the data server: bind, health service, signals, clean shutdown.

``run(path, port)`` is what ``streamvis grpc-serve`` and ``python -m
streamvis.grpc_server`` call: it serves until SIGINT/SIGTERM, then lets in-flight
calls finish, ends subscriptions, and flushes and closes the store.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from streamvis.addresses import is_loopback, reach_note
from streamvis.errors import InvalidArgumentError, StreamvisError
from streamvis.proto import service_pb2_grpc as spb_grpc
from streamvis.server import wire
from streamvis.server.guard import ServiceGuard
from streamvis.server.service import DataServicer

__all__ = ["SERVICE_NAME", "PortInUseError", "DataServer", "run", "ensure_parent_dir"]

SERVICE_NAME = "streamvis.DataService"


class PortInUseError(StreamvisError, OSError):
    """The server could not listen on the requested address (port taken, host not ours)."""

    code = "port_in_use"


class DataServer:
    """A data server over the log at ``path`` (opened for appending).

    Use ``await start()`` (returns "host:port", the real port when ``port`` is 0),
    then ``await stop()``.
    """

    def __init__(
        self,
        path: str,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
        poll_interval: float = 0.02,
        token: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        store_options: dict[str, Any] | None = None,
        commit_interval: float = 1.0,
    ) -> None:
        self.path = path
        self.commit_interval = commit_interval  # object stores only: one object per interval
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self.poll_interval = poll_interval
        self.token = token or None
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.store_options = store_options or {}
        self.address = ""
        self._server: grpc.aio.Server | None = None
        self._servicer: DataServicer | None = None
        self._health: HealthServicer | None = None
        self._store: Any = None

    async def start(self) -> str:
        """Open the store, bind and start serving; return the address listened on."""
        from streamvis.storage import Store

        credentials = _server_credentials(self.tls_cert, self.tls_key)
        problem = _bind_problem(self.host, self.port)  # before gRPC logs its own lines
        if problem:
            raise PortInUseError(problem)
        # the one gate of every call but the health service's: token, decoding, errors
        server = grpc.aio.server(
            interceptors=[ServiceGuard(self.token)],
            options=wire.server_options(self.max_message_bytes),
        )
        target = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        try:
            if credentials is None:
                port = server.add_insecure_port(target)
            else:
                port = server.add_secure_port(target, credentials)
        except RuntimeError:
            port = 0
        if port == 0:
            await server.stop(None)
            raise PortInUseError(
                _bind_problem(self.host, self.port) or f"cannot listen on {target}"
            )
        try:
            self._store = Store.open(self.path, mode="a", **self.store_options)
        except BaseException:
            await server.stop(None)
            raise
        follows = self._store.backend.appends_follow_log  # False: an object store
        try:
            self._servicer = DataServicer(
                self._store,
                max_message_bytes=self.max_message_bytes,
                # a log in a bucket: one object per commit interval, listed once a second
                poll_interval=self.poll_interval if follows else max(self.poll_interval, 1.0),
                commit_interval=0.0 if follows else self.commit_interval,
            )
            spb_grpc.add_DataServiceServicer_to_server(self._servicer, server)
            self._health = HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
            await server.start()
            self._servicer.start()
            for name in ("", SERVICE_NAME):
                await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        except BaseException:
            await server.stop(None)
            self._store.close()
            raise
        self._server = server
        self.port = port
        self.address = target.rsplit(":", 1)[0] + f":{port}"
        return self.address

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting calls, let in-flight ones finish, close the store."""
        if self._server is None:
            return
        server, self._server = self._server, None
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        assert self._servicer is not None
        self._servicer.closing = True
        self._servicer.changes.bump()
        await server.stop(grace)
        await self._servicer.close()
        await asyncio.to_thread(self._store.close)

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


def _server_credentials(cert: str | None, key: str | None) -> grpc.ServerCredentials | None:
    """TLS credentials from PEM files (None for plaintext); both or neither."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InvalidArgumentError("TLS needs both --tls-cert and --tls-key")
    pems = []
    for what, path in (("certificate", cert), ("key", key)):
        try:
            with open(path, "rb") as f:
                pems.append(f.read())
        except OSError as exc:
            raise InvalidArgumentError(
                f"cannot read the TLS {what} {path!r}: {exc.strerror or exc}"
            ) from None
    return grpc.ssl_server_credentials([(pems[1], pems[0])])


def _bind_problem(host: str, port: int) -> str:
    """Why ``host:port`` cannot be listened on ("" when a test bind succeeds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (
                f"cannot listen on {host}:{port}: the port is already in use "
                "(another data server?); stop it or choose another port"
            )
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return ""


def ensure_parent_dir(path: str) -> str | None:
    """Create the missing directory of a local log ``path`` (the seed's Quick Start
    serves /data/test on a fresh machine); returns the directory created, or None."""
    import os

    if "://" in path:
        return None
    parent = os.path.dirname(os.path.abspath(os.path.expanduser(path)))
    if os.path.isdir(parent):
        return None
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot create the directory {parent} for the log {path}: {exc.strerror or exc}; "
            "create it, or choose another PATH"
        ) from None
    return parent


def run(
    path: str,
    port: int,
    host: str = "127.0.0.1",
    *,
    echo: Callable[[str], None] | None = None,
    **options: Any,
) -> None:
    """Serve ``path`` on ``host:port`` until SIGINT/SIGTERM (blocking)."""
    say = echo or (lambda msg: print(msg, flush=True))
    created = ensure_parent_dir(path)
    if created:
        say(f"streamvis data server: created the directory {created} for {path}")

    async def main() -> None:
        server = DataServer(path, port, host, **options)
        address = await server.start()
        tls = "TLS" if server.tls_cert else "no TLS"
        token = "token required" if server.token else "no token"
        say(f"streamvis data server: serving {path} on {address} ({reach_note(host)}); {tls}, {token}")
        if not is_loopback(host) and not server.token:
            say("streamvis data server: warning: anyone who can reach this port can read and "
                "write the log; consider --token (and --tls-cert/--tls-key)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            say("streamvis data server: shutting down")
            await server.stop()
            say("streamvis data server: stopped")

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        sys.exit(130)
