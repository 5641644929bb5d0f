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


def test_a_built_wheel_carries_the_schemas(tmp_path):
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, tmp_path / part)
    shutil.copytree(ROOT / "streamvis", tmp_path / "streamvis",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (tmp_path / "dist").mkdir()
    build = ("import sys; from setuptools import build_meta; "
             "print(build_meta.build_wheel('dist'))")
    out = subprocess.run([sys.executable, "-c", build], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = tmp_path / "dist" / out.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"streamvis/schemas/demo.yaml", "streamvis/schemas/tensorboard.yaml"} <= names
