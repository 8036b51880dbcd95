"""Where the development data lives, and which of its folders are evaluation sets.

The development data (MEFB, SICE, Ma's MEF database, the memorial stack, the training
stacks; each folder described by its ``MANIFEST.md``) is not shipped with mefkit. It is
looked for in ``$MEFKIT_DATA``, else in ``shared/data`` beside the repository checkout
(``../shared/data`` from the repository root). Tests, benchmarks and the training
commands all find it through :func:`data_root`.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that points at the development data folder.
DATA_ENV = "MEFKIT_DATA"
#: Folders of the development data whose sub-folders are evaluation scenes, never trained
#: on: MEFB pairs, the MEF database stacks, Debevec's memorial church, and the test pairs
#: of the deep methods' published results (DPE-MEF, HoLoCo, HSDS-MEF) in ``deep_published``.
EVAL_FOLDERS = ("mefb", "mef_database", "memorial", "deep_published")


def data_root() -> Path:
    """The development data folder: ``$MEFKIT_DATA``, else ``../shared/data`` beside the checkout.

    The folder need not exist; callers check (tests skip with a reason, benchmarks stop
    with a message).
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    # src/mefkit/devdata.py -> the repository root is two folders above the package
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def eval_roots(root: str | Path | None = None) -> list[Path]:
    """The evaluation folders (:data:`EVAL_FOLDERS`) under ``root`` (default :func:`data_root`)."""
    base = Path(root) if root is not None else data_root()
    return [base / name for name in EVAL_FOLDERS]


__all__ = ["DATA_ENV", "EVAL_FOLDERS", "data_root", "eval_roots"]
