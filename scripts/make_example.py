"""Regenerate the bundled example bracket from scikit-image's CC0 ``coffee`` photo.

Run once by a developer (needs scikit-image); the JPEGs it writes are committed.
    python scripts/make_example.py

Each frame carries EXIF exposure time, f-number and ISO (1/60 s x 4^k, f/4, ISO 100)
so that the bracket exercises mefkit's EXIF ordering.
"""

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from mefkit.synth import simulate_bracket

OUT = Path(__file__).resolve().parents[1] / "src" / "mefkit" / "data" / "example"
EVS = (-2.0, 0.0, 2.0)
NAMES = ("coffee_1_under.jpg", "coffee_2_mid.jpg", "coffee_3_over.jpg")


def main() -> None:
    src = data.coffee().astype(np.float32) / 255
    frames = simulate_bracket(src, EVS, contrast=0.25, seed=7)
    OUT.mkdir(parents=True, exist_ok=True)
    for ev, frame, name in zip(EVS, frames, NAMES):
        img = Image.fromarray(np.round(frame * 255).astype(np.uint8))
        exif = Image.Exif()
        ifd = exif.get_ifd(0x8769)
        ifd[0x829A] = float(Fraction(1, 60) * Fraction(2) ** int(ev))  # ExposureTime
        ifd[0x829D] = 4.0  # FNumber
        ifd[0x8827] = 100  # ISOSpeedRatings
        img.save(OUT / name, quality=92, exif=exif)
        print(OUT / name)


if __name__ == "__main__":
    main()
