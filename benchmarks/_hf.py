"""Building `datasets.Dataset` objects without touching the network or the HF cache.

Tasks are built in memory from package files (`Dataset.from_list`), so no cache directory is
written; the offline switches are set before `datasets` is first imported so that nothing it
does on import can reach the Hub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.base import Task


def _offline() -> None:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def tasks_to_dataset(tasks: list[Task]) -> Any:
    """One row per task. Nested free-form fields are JSON text so every row has one schema."""
    _offline()
    import datasets

    rows = []
    for t in tasks:
        row = t.model_dump()
        for key in ("turns", "tools", "metadata"):
            row[key] = json.dumps(row[key], sort_keys=True)
        rows.append(row)
    return datasets.Dataset.from_list(rows)


def load_dataset_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a dataset saved with `Dataset.save_to_disk` (a DatasetDict: its splits, in order,
    each row tagged with `split` unless it has one). A DatasetDict with a single split is not
    an official split (everything would be train, leaving nothing held out): its rows are
    split by hash like any other."""
    _offline()
    import datasets

    loaded = datasets.load_from_disk(str(path), keep_in_memory=True)
    if isinstance(loaded, datasets.DatasetDict) and len(loaded) == 1:
        return list(next(iter(loaded.values())).to_list())
    if isinstance(loaded, datasets.DatasetDict):
        rows: list[dict[str, Any]] = []
        for name, part in loaded.items():
            for row in part.to_list():
                row.setdefault("split", name)
                rows.append(row)
        return rows
    return list(loaded.to_list())
