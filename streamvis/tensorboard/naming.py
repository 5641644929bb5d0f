"""How TensorBoard's runs and tags become streamvis scopes and names.

The writer and the importer both use these rules, so that a program logged through
``streamvis.tensorboard.SummaryWriter`` and the same program logged through torch's
writer and then imported give the same scopes and names:

- a run (scope) is the run directory relative to a root, with ``/`` separators;
  the root itself is named by its own directory name (``runs`` -> ``runs``);
- a scalar's name is its tag;
- ``add_scalars(main, {k: v})`` logs into run ``<run>/<main with / as _>_<k>``
  under the name ``<main>`` (torch/utils/tensorboard/writer.py does the same);
- a histogram ``tag`` is the group ``<tag>:hist`` (bucket, count, left, right and
  the step as a filter column) and the lines ``<tag>:min``, ``<tag>:max``,
  ``<tag>:mean``. TensorFlow-style tags never hold ``:``, so schemas can tell
  histogram names from scalar names by pattern;
- a text ``tag`` is kept in the run's config under ``text.<tag>`` (torch writes
  the tag ``<tag>/text_summary``).
"""

from __future__ import annotations

import os

from streamvis.errors import InvalidArgumentError

__all__ = [
    "run_name",
    "scalars_run",
    "hist_name",
    "hist_stat_name",
    "HIST_STATS",
    "text_key",
    "TORCH_TEXT_SUFFIX",
]

HIST_SUFFIX = ":hist"
HIST_STATS = ("min", "max", "mean")
TORCH_TEXT_SUFFIX = "/text_summary"


def run_name(run_dir: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """The scope of ``run_dir`` seen from ``root`` (``root/exp1`` -> ``exp1``)."""
    run_abs = os.path.abspath(os.fspath(run_dir))
    root_abs = os.path.abspath(os.fspath(root))
    rel = os.path.relpath(run_abs, root_abs)
    if rel == os.curdir:
        base = os.path.basename(run_abs.rstrip(os.sep))
        return base or "/"
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise InvalidArgumentError(
            f"log_dir {os.fspath(run_dir)!r} is not inside root {os.fspath(root)!r}; "
            "give a root= that contains it"
        )
    return rel.replace(os.sep, "/")


def scalars_run(run: str, main_tag: str, key: str) -> str:
    """The run that ``add_scalars(main_tag, {key: ...})`` of run ``run`` writes to."""
    return f"{run}/{main_tag.replace('/', '_')}_{key}"


def hist_name(tag: str) -> str:
    """The name of the drawable histogram group of ``tag``."""
    return tag + HIST_SUFFIX


def hist_stat_name(tag: str, stat: str) -> str:
    """The name of the per-step ``stat`` line (min, max, mean) of histogram ``tag``."""
    return f"{tag}:{stat}"


def text_key(tag: str) -> str:
    """The config key holding the last text of ``tag``."""
    return f"text.{tag}"
