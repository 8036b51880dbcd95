"""A photographer's flat folder, written at test time: brackets of small JPEGs with EXIF capture data."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, TiffImagePlugin

from .conftest import make_bracket

#: The camera's bracket order: metered, under, over.
CAMERA_ORDER = (0.0, -2.0, 2.0)
START = datetime(2026, 5, 1, 10, 0, 0)


def exif_for(when: datetime, exposure_time: float, bias: float) -> Image.Exif:
    """EXIF with DateTimeOriginal, SubSecTimeOriginal, ExposureTime and ExposureBiasValue."""
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    ifd[0x9291] = f"{when.microsecond // 10000:02d}"
    shutter = Fraction(exposure_time).limit_denominator(10000)
    ifd[0x829A] = TiffImagePlugin.IFDRational(shutter.numerator, shutter.denominator)
    ifd[0x9204] = TiffImagePlugin.IFDRational(int(round(bias * 3)), 3)
    return exif


def scene_frames(seed: int, evs: Sequence[float] = CAMERA_ORDER, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """One scene at the given exposure values (float32 RGB in [0, 1]), in the given order."""
    ordered = sorted(evs)
    frames = make_bracket(h, w, len(ordered), seed=seed)  # darkest first, -2..+2 EV
    return [frames[ordered.index(ev)] for ev in evs]


def write_shoot(folder: Path, starts: Sequence[float], *, exif: bool = True, base_time: float = 1 / 60,
                spacing: float = 1.0, evs: Sequence[float] = CAMERA_ORDER, first_number: int = 1,
                seeds: Sequence[int] | None = None) -> list[list[Path]]:
    """Write one bracket per entry of ``starts`` (seconds after :data:`START`) into ``folder``.

    Within a bracket frame ``k`` starts ``spacing`` seconds after the end of frame
    ``k - 1`` (its start + its exposure time ``base_time * 2**ev``). Files are
    ``IMG_0001.jpg``, ``IMG_0002.jpg``... in capture order. Returns the files of each bracket.
    """
    folder.mkdir(parents=True, exist_ok=True)
    number = first_number
    out = []
    for b, start in enumerate(starts):
        when = START + timedelta(seconds=start)
        files = []
        for frame, ev in zip(scene_frames(seeds[b] if seeds else b, evs), evs):
            path = folder / f"IMG_{number:04d}.jpg"
            image = Image.fromarray(np.round(frame * 255).astype(np.uint8))
            shutter = base_time * 2.0 ** ev
            if exif:
                image.save(path, quality=95, exif=exif_for(when, shutter, ev))
            else:
                image.save(path, quality=95)
            when += timedelta(seconds=shutter + spacing)
            files.append(path)
            number += 1
        out.append(files)
    return out
