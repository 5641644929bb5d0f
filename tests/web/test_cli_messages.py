"""What web-serve and quickstart print: the start-up lines (reach, TLS, web token, an
example URL built from the schema in use), the warning for a non-local bind without a
web token, busy ports and bad options in one `Error: ...` line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import self_signed_cert

from .conftest import ROOT, free_port

CLI = [sys.executable, "-m", "streamvis.cli"]
ORIGINAL = Path(__file__).resolve().parent / "data" / "original_demo.yaml"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STREAMVIS_WEB_TOKEN"}
    return dict(env, PYTHONPATH=str(ROOT), **extra)


def _startup_lines(procs, args: list[str], env: dict[str, str], until: str) -> list[str]:
    proc = procs.popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:  # the reaper ends it if the line never comes (pytest-timeout)
        lines.append(line.rstrip("\n"))
        if until in line:
            break
    proc.terminate()
    proc.wait(20)
    assert any(until in ln for ln in lines), lines
    return lines


def test_non_local_bind_without_a_web_token_warns_and_the_url_follows_the_schema(
    procs, log_path, store
):
    port = free_port()
    lines = _startup_lines(
        procs, ["web-serve", f"0.0.0.0:{port}", log_path, str(ORIGINAL)], _env(), "open http://"
    )
    text = "\n".join(lines)
    assert f"listening on 0.0.0.0:{port} (other machines can connect); no TLS, no web token" in text
    assert "warning: anyone who can reach this port sees every run" in text
    assert "--web-token" in text
    assert "/?rows=loss,filtered-lines;filtered-scatter" in text  # the original schema's plots
    assert "weights" not in text  # not the demo schema's example


def test_web_token_from_the_environment_is_announced_never_printed(procs, log_path, store):
    port = free_port()
    lines = _startup_lines(
        procs,
        ["web-serve", f"127.0.0.1:{port}", log_path, str(ROOT / "streamvis" / "schemas" / "demo.yaml")],
        _env(STREAMVIS_WEB_TOKEN="env-t0ken-42"),
        "web_token=<token>",
    )
    text = "\n".join(lines)
    assert "web token required" in text and "warning" not in text
    assert "env-t0ken-42" not in text
    assert "/?rows=loss,lr;weights,cloud" in text


def test_https_is_announced_with_an_https_url(procs, log_path, store, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    port = free_port()
    lines = _startup_lines(
        procs,
        ["web-serve", f"127.0.0.1:{port}", log_path, str(ORIGINAL), "--tls-cert", cert,
         "--tls-key", key, "--web-token", "x-token"],
        _env(), "open https://",
    )
    assert any("HTTPS, web token required" in ln for ln in lines), lines


def _one_error(args: list[str], **env: str) -> str:
    r = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=_env(**env))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    return lines[0]


def test_busy_port_is_one_clear_line(log_path, store):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        line = _one_error(["web-serve", f"127.0.0.1:{port}", log_path, str(ORIGINAL)])
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in line
    assert "choose another port" in line


def test_bad_options_are_one_line_each(log_path, store, tmp_path):
    cert, _ = self_signed_cert(tmp_path)
    schema = str(ORIGINAL)
    port = str(free_port())
    assert "needs both --tls-cert and --tls-key" in _one_error(
        ["web-serve", f"127.0.0.1:{port}", log_path, schema, "--tls-cert", cert]
    )
    assert "cannot read the TLS key" in _one_error(
        ["web-serve", f"127.0.0.1:{port}", log_path, schema, "--tls-cert", cert,
         "--tls-key", str(tmp_path / "missing.pem")]
    )
    assert "printable ASCII" in _one_error(
        ["web-serve", f"127.0.0.1:{port}", log_path, schema], STREAMVIS_WEB_TOKEN="has space"
    )
    bad = tmp_path / "old.yaml"
    bad.write_text("loss:\n  group_pattern: loss\n  columns: [x, y]\n")
    assert "replaced by 'name_pattern'" in _one_error(
        ["web-serve", f"127.0.0.1:{port}", log_path, str(bad)]
    )
    assert _one_error(["scopes", str(tmp_path / "absent.svl")]).startswith("Error: ")


def test_quickstart_says_when_its_demo_ends(procs, tmp_path):
    port = free_port()
    lines = _startup_lines(
        procs,
        ["quickstart", "--port", str(port), "--path", str(tmp_path / "qs.svl"), "--steps", "5",
         "--step-delay", "0"],
        _env(),
        "the demo has ended",
    )
    text = "\n".join(lines)
    assert "logging the demo (5 steps)" in text
    assert text.index("open http://") < text.index("the demo has ended (5 steps logged)")


def test_quickstart_options_are_in_its_help_and_the_readme():
    from click.testing import CliRunner

    from streamvis.web.cli import quickstart_cmd

    options = [p.opts[0] for p in quickstart_cmd.params if p.opts[0].startswith("--")]
    assert "--port" in options
    shown = CliRunner().invoke(quickstart_cmd, ["--help"])
    assert shown.exit_code == 0 and "localhost:PORT" in shown.output
    readme = (ROOT / "README.md").read_text()
    usage = next(line for line in readme.splitlines() if line.startswith("streamvis quickstart ["))
    assert all(opt in usage for opt in options), (options, usage)
    assert "quickstart.sh --port" in readme
    bad = CliRunner().invoke(quickstart_cmd, ["--port", "70000"])
    assert bad.exit_code == 2 and "70000" in bad.output


def test_web_serve_needs_no_schema(procs, log_path, store):
    """Issue 21: without SCHEMA_FILE web-serve starts and points at the page of every
    name (the page itself: test_browser_names)."""
    port = free_port()
    lines = _startup_lines(procs, ["web-serve", f"127.0.0.1:{port}", log_path], _env(), "open http://")
    text = "\n".join(lines)
    assert f"open http://127.0.0.1:{port}/ (every name); index: http://127.0.0.1:{port}/index" in text
    assert "?rows=" not in text  # no schema: no example layout of its plots
