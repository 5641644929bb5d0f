"""``streamvis demo``: log a realistic training-like stream (every plot kind of streamvis/schemas/demo.yaml).

Names logged under the scope (columns; indices):

* ``loss``: x (int64 step), y (float32); index 0 train (every step), 1 val and
  2 test (every 10 steps, as one batched write).
* ``lr``: x, y: a warm-up then cosine schedule.
* ``weights``: x, y: the norms of 8 layers, one index each (a batched write of shape (8, 1)).
* ``cloud``: x, y (float32), t (int64 step): a 2-D point cloud per step (scatter,
  filtered by t).
* a config: hyper-parameters and the start time.
"""

from __future__ import annotations

import math
import time

import click
import numpy as np

from streamvis.logger.logger import DataLogger
from streamvis.paths import default_log_path  # re-exported: callers and tests use it here

__all__ = ["run_demo", "demo_cmd", "DEFAULT_SERVER", "default_log_path"]

DEFAULT_SERVER = "localhost:8081"  # the seed's Quick Start port
NUM_LAYERS = 8
CLOUD_POINTS = 400


def server_answers(uri: str, timeout: float = 1.0, *, tls_ca: str | None = None) -> bool:
    """True when a streamvis data server at ``uri`` reports SERVING."""
    try:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        from streamvis.server.client import open_channel
    except ImportError:  # pragma: no cover - grpcio-health-checking is a dependency
        return False
    with open_channel(uri, tls_ca=tls_ca) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _cloud(step: int, num_steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three clusters that tighten and rotate as training progresses."""
    frac = step / max(1, num_steps - 1)
    k = rng.integers(0, 3, CLOUD_POINTS)
    angle = 2 * math.pi * k / 3 + frac * math.pi
    spread = 1.5 * (1 - frac) + 0.15
    x = 3 * np.cos(angle) + spread * rng.standard_normal(CLOUD_POINTS)
    y = 3 * np.sin(angle) + spread * rng.standard_normal(CLOUD_POINTS)
    return x.astype(np.float32), y.astype(np.float32)


def run_demo(
    scope: str,
    num_steps: int,
    *,
    path: str | None = None,
    grpc_uri: str | None = None,
    step_delay: float = 0.0,
    token: str | None = None,
    tls_ca: str | None = None,
    close_timeout: float = 10.0,
) -> dict[str, int]:
    """Log the demo stream under ``scope`` to ``path`` or the server at ``grpc_uri``
    (exactly one of them), sleeping ``step_delay`` seconds between steps. ``token`` and
    ``tls_ca`` are for the server (defaults: $STREAMVIS_TOKEN, $STREAMVIS_TLS_CA).

    Returns the logger's ``stats()``. Raises UnavailableError when points were not
    delivered (the server stayed down for ``close_timeout`` s after the last step),
    naming how many and where."""
    rng = np.random.default_rng(0)
    base_lr, warmup = 3e-3, max(1, num_steps // 20)
    logger = DataLogger(scope=scope, delete_existing=True)
    if grpc_uri is not None:  # a refused token fails here, in one line
        from streamvis.errors import UnavailableError
        from streamvis.server.client import DataClient

        with DataClient(grpc_uri, token, tls_ca=tls_ca) as client:
            try:
                client.scopes()
            except UnavailableError:
                pass  # the server may come up later: the logger buffers and retries
    logger.init(path=path, grpc_uri=grpc_uri, flush_every=0.5, tensor_type="numpy",
                token=token, tls_ca=tls_ca, close_timeout=close_timeout)
    norms = rng.uniform(0.5, 2.0, NUM_LAYERS).astype(np.float32)
    with logger:
        logger.write_config({
            "start-time": time.time(), "num_steps": num_steps, "base_lr": base_lr,
            "layers": NUM_LAYERS, "optimizer": "adamw",
        })
        for step in range(num_steps):
            frac = step / max(1, num_steps - 1)
            train = 2.5 * math.exp(-4 * frac) + 0.1 + 0.05 * float(rng.standard_normal())
            logger.write("loss", x=step, y=train)  # index 0; a Python float: float32
            if step % 10 == 0:
                held_out = np.array([[train + 0.15], [train + 0.2]], np.float32)
                logger.write("loss", start_index=1, x=step, y=held_out)  # indices 1, 2
            lr = base_lr * (step + 1) / warmup if step < warmup else (
                0.5 * base_lr * (1 + math.cos(math.pi * (step - warmup) / max(1, num_steps - warmup))))
            logger.write("lr", x=step, y=lr)
            norms += 0.01 * rng.standard_normal(NUM_LAYERS).astype(np.float32)
            logger.write("weights", x=step, y=norms[:, None])  # (8, 1): indices 0..7
            cx, cy = _cloud(step, num_steps, rng)
            logger.write("cloud", x=cx, y=cy, t=step)
            if step_delay > 0:
                time.sleep(step_delay)
    stats = logger.stats()
    _check_delivered(stats, f"the data server at {grpc_uri}" if grpc_uri else f"the log {path}",
                     close_timeout)
    return stats


def _check_delivered(stats: dict[str, int], target: str, waited: float) -> None:
    """UnavailableError saying what was not delivered, if anything."""
    from streamvis.errors import UnavailableError

    lost = {k: stats.get(k, 0) for k in ("undelivered_points", "dropped_points", "refused_points")}
    missing = sum(lost.values())
    if missing == 0:
        return
    total = stats.get("delivered_points", 0) + missing
    parts = [f"{n} {k.split('_')[0]}" for k, n in lost.items() if n]
    hint = (" (is `streamvis grpc-serve` running there?)" if "data server" in target else "")
    raise UnavailableError(
        f"demo: {missing} of {total} points were not delivered to {target} "
        f"({', '.join(parts)}; waited {waited:g} s after the last step){hint}"
    )


@click.command("demo")
@click.argument("scope")
@click.argument("num_steps", type=click.IntRange(min=1))
@click.option("--path", default=None, help="Log directly to this log path/URL.")
@click.option("--grpc-uri", default=None, help="Log through the data server at host:port.")
@click.option("--step-delay", default=0.0, show_default=True, type=float,
              help="Seconds to sleep between steps (to watch it stream).")
@click.option("--token", default=None, help="Token of the data server (env STREAMVIS_TOKEN).")
@click.option("--tls-ca", default=None, type=click.Path(dir_okay=False),
              help="CA certificate (PEM) of a TLS data server (env STREAMVIS_TLS_CA).")
@click.option("--wait", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to keep retrying an unreachable server after the last step.")
def demo_cmd(scope: str, num_steps: int, path: str | None, grpc_uri: str | None,
             step_delay: float, token: str | None, tls_ca: str | None, wait: float) -> None:
    """Log a training-like demo stream under SCOPE for NUM_STEPS steps.

    With neither --path nor --grpc-uri: the data server at localhost:8081 if one
    answers, else the embedded default log ($STREAMVIS_LOG or ~/.streamvis/quickstart.svl).
    Exits with status 1, saying how many points were not delivered, when the server
    stays unreachable.
    """
    if path is not None and grpc_uri is not None:
        raise click.UsageError("give at most one of --path and --grpc-uri")
    if path is None and grpc_uri is None:
        if server_answers(DEFAULT_SERVER, tls_ca=tls_ca):
            grpc_uri = DEFAULT_SERVER
        else:
            path = default_log_path()
            click.echo(f"no data server answers at {DEFAULT_SERVER}; using the embedded log")
    target = f"the data server at {grpc_uri}" if grpc_uri else f"the log {path}"
    click.echo(f"demo: logging {num_steps} steps of scope {scope!r} to {target}")
    t0 = time.perf_counter()
    stats = run_demo(scope, num_steps, path=path, grpc_uri=grpc_uri, step_delay=step_delay,
                     token=token, tls_ca=tls_ca, close_timeout=wait)
    click.echo(f"demo: done in {time.perf_counter() - t0:.1f} s: "
               f"{stats.get('delivered_points', 0)} points delivered")
