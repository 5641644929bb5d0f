"""Children of tests are reaped on every exit path, and Ctrl-C tests do not depend on
the SIGINT disposition they inherit (a suite run in the background ignores it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]

HANGING_TEST = """
import sys, time

CHILD = '''
import os, subprocess, sys, time
grand = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # burns CPU, like the report
open(sys.argv[1], "w").write(f"{os.getpid()} {grand.pid}")
while True:
    time.sleep(0.1)
'''


def test_hangs(procs):
    procs.popen([sys.executable, "-c", CHILD, PIDFILE])
    time.sleep(120)  # pytest-timeout ends this test
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status is left


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def test_a_timed_out_test_leaves_no_child_or_grandchild_running(tmp_path):
    pidfile = tmp_path / "pids"
    inner = tmp_path / "test_inner.py"
    inner.write_text(HANGING_TEST.replace("PIDFILE", repr(str(pidfile))))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--timeout", "4", "--rootdir", str(tmp_path), str(inner)],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert run.returncode != 0 and "Timeout" in run.stdout + run.stderr, run.stdout[-2000:]
    child, grandchild = (int(p) for p in pidfile.read_text().split())
    wait_for(lambda: not _alive(child) and not _alive(grandchild), timeout=10)


def test_ctrl_c_test_passes_when_the_suite_ignores_sigint():
    """As under `./scripts/test.sh &`: SIGINT ignored in pytest and so in its children."""
    test = "tests/logger/test_reliability.py::test_ctrl_c_and_interpreter_exit_flush_in_real_processes"
    script = textwrap.dedent(f"""
        trap '' INT
        exec {sys.executable} -m pytest -q -p no:cacheprovider --timeout 120 {test}
    """)
    run = subprocess.run(["sh", "-c", script], cwd=ROOT, env=_env(), capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
