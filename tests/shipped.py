"""Where the tests find the weights files mefkit ships, and what they must hash to.

The one place that knows the shipped files' locations: tests and ``scripts/`` reach the
learned methods through ``mefkit.fuse(..., weights=...)`` and the registry, and take
the files from here, so moving a file needs one fix here.

Paths are resolved against the imported ``mefkit`` package, so a run with another copy
of the package first on ``PYTHONPATH`` (``scripts/mutation_run.py`` does this with an
altered weights file) tests that copy's files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import mefkit

#: method -> (weights file, its model card), relative to the ``mefkit`` package folder.
SHIPPED_FILES: dict[str, tuple[str, str]] = {
    "progressive": ("methods/progressive/progressive_v1.safetensors", "methods/progressive/MODEL_CARD.md"),
    "cbm": ("methods/cbm/cbm.safetensors", "methods/cbm/MODEL_CARD.md"),
    "mitm": ("methods/mitm/mitm_translators.safetensors", "methods/mitm/MODEL_CARD.md"),
}

#: method -> sha256 of the shipped weights file. Changing a shipped file means
#: updating this pin, the model card's sha256 line and the regression references in
#: ``tests/data/learned_regression.npz`` (``scripts/learned_regression.py``) together.
SHIPPED_SHA256: dict[str, str] = {
    "progressive": "204927a35458d8953d6f468ce057a6737f6f14d5fa7284dc6c53c043601f7a42",
    "cbm": "0e3fcc2c93a452b81b31fe7f8abc91f8a7bab902d26ab2a85ea43414c8e9ec0c",
    "mitm": "3d2d407432f809c452820bb5d3576f45e23d50821ecbeeec009a4f896cf8479c",
}


def package_dir() -> Path:
    """The folder of the imported ``mefkit`` package."""
    return Path(mefkit.__file__).resolve().parent


def weights_path(method: str) -> Path:
    """The shipped weights file of a learned ``method`` (it may be missing: test that)."""
    return package_dir() / SHIPPED_FILES[method][0]


def model_card(method: str) -> Path:
    """The model card shipped beside ``method``'s weights."""
    return package_dir() / SHIPPED_FILES[method][1]


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mitm_translate_pair(under, over, *, weights: str):
    """MITM's two translations ``(G_LH(under), G_HL(over))`` with the translator file ``weights``.

    The translators are not reachable through ``mefkit.fuse``; this is the one place
    the tests import them from.
    """
    from mefkit.methods.mitm.stages.translate import translate_pair

    return translate_pair(under, over, weights=weights)
