"""Write the learned methods' regression references (``tests/data/learned_regression.npz``).

Each learned method fuses the crop of the bundled example defined in
``tests/learned_example.py`` with its shipped weights; every fourth pixel (each way) of the result
is stored as uint16. These are **self-generated regression references, not an external
oracle**: they record what the shipped weights produce, so that a change to the weights
or to the inference code shows up. Re-run only on purpose, when a shipped file changes
(and update the sha256 pins in ``tests/shipped.py`` with it)::

    PYTHONPATH=src python scripts/learned_regression.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.learned_example import REFERENCE, REFERENCE_NOTE, REFERENCE_STRIDE, fuse_crop  # noqa: E402
from tests.shipped import SHIPPED_FILES, SHIPPED_SHA256, sha256, weights_path  # noqa: E402


def main() -> None:
    arrays = {"note": np.array(REFERENCE_NOTE)}
    for method in sorted(SHIPPED_FILES):
        digest = sha256(weights_path(method))
        if digest != SHIPPED_SHA256[method]:
            raise SystemExit(f"{weights_path(method)} does not match its pin in tests/shipped.py")
        out = fuse_crop(method)[::REFERENCE_STRIDE, ::REFERENCE_STRIDE]
        arrays[method] = np.round(out * 65535).astype(np.uint16)
        arrays[f"{method}_weights_sha256"] = np.array(digest)
        print(f"{method}: {arrays[method].shape} from weights sha256 {digest[:12]}")
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(REFERENCE, **arrays)
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
