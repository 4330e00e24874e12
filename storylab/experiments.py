"""Tables of `dvc exp show --csv`, as `make sweep` (scripts/ablation.py) and `make seeds` (scripts/seeds.py) collect
them. No torch: importing this stays cheap."""
from __future__ import annotations

import pandas as pd

RUN_ROWS = ("branch_commit", "branch_base")  # `typ` of an experiment's own row (not the baseline or a checkpoint)


def finished(frame: pd.DataFrame, selected: pd.Series) -> pd.DataFrame:
    """The selected experiments' rows that ran to the end (no State column: every listed one did)."""
    rows = frame[frame["typ"].isin(RUN_ROWS) & selected]
    if "State" in rows:
        rows = rows[rows["State"].fillna("Success").isin(["Success", ""])]
    return rows
