"""Keys spelled like run summaries: ``NAME.STAT`` (``loss.min``), where ``STAT`` is one
of ``summaries.STATS``, and the ``summary=`` parameter (the runs panel's summary columns,
``summary=loss.min,acc.last``). Whether such a key reads a summary or a config key is
decided with the log (``runs.run_summaries``): a summary where some run logged NAME;
``config:KEY`` is always the config key.
"""

from __future__ import annotations

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.summaries import STATS

__all__ = ["CONFIG_PREFIX", "MAX_SUMMARY_COLUMNS", "split_key", "parse_summary_param", "STATS"]

CONFIG_PREFIX = "config:"  # where=config:KEY: the config key even where a summary is spelled so
MAX_SUMMARY_COLUMNS = 24


def split_key(key: str) -> tuple[str, str] | None:
    """(NAME, STAT) of a key spelled like a summary, else None."""
    if key.startswith(CONFIG_PREFIX) or "." not in key:
        return None
    name, stat = key.rsplit(".", 1)
    return (name, stat) if name and stat in STATS else None


def parse_summary_param(text: str) -> tuple[str, ...]:
    """The keys of ``summary=loss.min,acc.last``; InvalidArgumentError naming a bad one."""
    keys: list[str] = []
    for part in text.split(","):
        key = part.strip()
        if not key:
            continue
        if "." not in key or not key.rsplit(".", 1)[0]:
            raise InvalidArgumentError(
                f"summary={key!r} is not NAME.STAT: expected e.g. loss.min, STAT one of {', '.join(STATS)}")
        if split_key(key) is None:
            raise InvalidArgumentError(
                f"summary={key!r}: unknown stat {key.rsplit('.', 1)[1]!r}; expected one of {', '.join(STATS)}")
        keys.append(key)
    if len(keys) > MAX_SUMMARY_COLUMNS:
        raise InvalidArgumentError(f"summary= names {len(keys)} columns: at most {MAX_SUMMARY_COLUMNS}")
    return tuple(dict.fromkeys(keys))
