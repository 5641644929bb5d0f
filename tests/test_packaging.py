"""What `pip install .` carries: the schemas the README names ship inside the package,
one copy each (streamvis/schemas/), found by the code from the package."""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from streamvis.web.schema import PACKAGED_SCHEMAS, load_schema, packaged_schema_path

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_holds_every_schema_and_the_code_finds_it():
    listed = {p.name for p in (importlib.resources.files("streamvis") / "schemas").iterdir()}
    assert {"demo.yaml", "tensorboard.yaml"} <= listed
    for name in PACKAGED_SCHEMAS:
        assert load_schema(packaged_schema_path(name)).plots  # loads, has plots


def test_no_second_copy_of_a_schema_outside_the_package():
    assert not (ROOT / "schemas").exists()


def _build(tmp_path: Path, hook: str) -> tuple[Path, str]:
    """Build a copy of the project with setuptools' PEP 517 ``hook``: (the file, stderr)."""
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, tmp_path / part)
    shutil.copytree(ROOT / "streamvis", tmp_path / "streamvis",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (tmp_path / "dist").mkdir()
    build = f"from setuptools import build_meta; print(build_meta.{hook}('dist'))"
    out = subprocess.run([sys.executable, "-W", "default", "-c", build], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return tmp_path / "dist" / out.stdout.strip().splitlines()[-1], out.stderr


def test_a_built_wheel_carries_the_schemas(tmp_path):
    wheel, _ = _build(tmp_path, "build_wheel")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"streamvis/schemas/demo.yaml", "streamvis/schemas/tensorboard.yaml"} <= names


def test_an_editable_install_builds_without_a_setuptools_warning(tmp_path):
    """quickstart.sh refreshes with `pip install -q -e .`; a warning there is noise on
    every start (setuptools' "Editable installation ... folders ... may take precedence")."""
    wheel, stderr = _build(tmp_path, "build_editable")
    assert "Editable installation" not in stderr and "!!" not in stderr, stderr[-3000:]
    pth = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".pth")]
    assert pth, "the editable wheel puts the project root on sys.path with a .pth file"
