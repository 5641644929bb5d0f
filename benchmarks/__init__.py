"""streamvis benchmark suite.

Entry point: ``python -m benchmarks compare [--quick] [--runs N]`` (streamvis against
TensorBoard, MLflow, Aim and the machine's limits), ``python -m benchmarks.storage_bench``
(the storage engine's own table). Shared table/timing helpers live in
:mod:`benchmarks.table`.
"""
