"""Find fused images made elsewhere for a scene (``mefkit eval --outputs DIR``).

Accepted layouts of an outputs folder, for a scene named ``S``:

* ``DIR/S/fused/<method>.*`` (MEFB as stored in ``../shared/data/mefb``: the dataset
  folder itself can be passed);
* ``DIR/S/<method>.*`` (one folder of results per scene);
* ``DIR/S_<method>.*`` (MEFB's original ``output/fused_images`` naming).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..datasets.ordering import natural_key
from ..datasets.scene import Scene
from ..io.read import IMAGE_EXTENSIONS

#: Largest relative difference of aspect ratio accepted when an external result must be
#: resized to the input size (MEFB ``Preschool``/``SevenElevenNight`` are 2x the inputs).
ASPECT_TOLERANCE = 0.02


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: natural_key(p.name),
    )


def find_outputs(folder: Path, scene: Scene) -> dict[str, Path]:
    """``{method: path}`` of the results for ``scene`` under ``folder`` (may be empty)."""
    folder = Path(folder)
    scene_dir = folder / scene.name
    fused = _images(scene_dir / "fused")
    if fused:
        return {p.stem: p for p in fused}
    if scene_dir.is_dir():
        own = {p.resolve() for p in scene.all_frames} | ({scene.gt.resolve()} if scene.gt else set())
        found = _images(scene_dir)
        if any(p.resolve() in own for p in found):
            return {}  # the scene's own folder (the data passed as outputs) without fused/
        return {p.stem: p for p in found}
    prefix = f"{scene.name}_"
    if "/" in scene.name:
        return {}
    return {
        p.stem[len(prefix):]: p
        for p in _images(folder)
        if p.stem.startswith(prefix) and len(p.stem) > len(prefix)
    }


def fit_to_inputs(image: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Resize an external result to the input size ``(H, W)`` when only the scale differs.

    Returns the image and its original ``(W, H)`` when it was resized (else ``None``).

    Raises
    ------
    ValueError
        When the aspect ratio differs (a crop or another scene, not a scaled copy).
    """
    h, w = shape
    ih, iw = image.shape[:2]
    if (ih, iw) == (h, w):
        return image, None
    if abs((iw / ih) / (w / h) - 1.0) > ASPECT_TOLERANCE:
        raise ValueError(f"result is {iw}x{ih} but the inputs are {w}x{h} (different aspect ratio)")
    # INTER_AREA averages the covered source pixels: the right filter for shrinking.
    interp = cv2.INTER_AREA if ih > h else cv2.INTER_CUBIC
    out = cv2.resize(image, (w, h), interpolation=interp)
    return np.clip(out, 0.0, 1.0), (iw, ih)
