"""Competitor workloads. Each module runs in .venv-bench as a subprocess of
``python -m benchmarks compare`` and prints its rows as table JSON."""
