"""Build DNG brackets at test time with pidng (no RAW file is stored or downloaded).

A scene given in sRGB is linearised (IEC 61966-2-1), multiplied by each frame's
exposure, scaled by per-channel camera sensitivities (so that white balance matters),
mosaicked to a 12-bit RGGB Bayer pattern and written with the tags LibRaw needs: black
and white level, a colour matrix whose camera space is linear sRGB (XYZ -> sRGB, D65),
the as-shot neutral, and the exposure time, f-number, ISO and capture time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

#: Camera RGB sensitivity relative to green: the as-shot neutral of a white patch.
NEUTRAL = (0.5, 1.0, 0.7)
BLACK, WHITE = 256, 4095
#: XYZ (D65) -> linear sRGB (IEC 61966-2-1).
XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                        [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer curve of values in [0, 1]."""
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def mosaic(linear: np.ndarray, neutral: Sequence[float] = NEUTRAL) -> np.ndarray:
    """``(H, W, 3)`` linear scene (1 = sensor white) -> 12-bit RGGB raw ``(H, W)`` uint16."""
    cam = np.clip(linear * np.asarray(neutral), 0.0, 1.0)
    raw = np.empty(linear.shape[:2])
    raw[0::2, 0::2] = cam[0::2, 0::2, 0]
    raw[0::2, 1::2] = cam[0::2, 1::2, 1]
    raw[1::2, 0::2] = cam[1::2, 0::2, 1]
    raw[1::2, 1::2] = cam[1::2, 1::2, 2]
    return np.round(BLACK + raw * (WHITE - BLACK)).astype(np.uint16)


def _rationals(values, den: int = 10000) -> list[list[int]]:
    return [[int(round(v * den)), den] for v in np.ravel(values)]


def write_dng(path: Path, raw: np.ndarray, *, exposure_time: float, f_number: float = 8.0, iso: int = 100,
              when: str = "2026:05:01 10:00:00", neutral: Sequence[float] = NEUTRAL,
              make: str = "MefCam", model: str = "Bracket One") -> Path:
    """Write a 12-bit RGGB DNG of ``raw`` with the given EXIF exposure."""
    from fractions import Fraction

    from pidng.core import RAW2DNG
    from pidng.defs import (CalibrationIlluminant, CFAPattern, DNGVersion, Orientation, PhotometricInterpretation)
    from pidng.dng import DNGTags, Tag

    h, w = raw.shape
    t = DNGTags()
    t.set(Tag.ImageWidth, w)
    t.set(Tag.ImageLength, h)
    t.set(Tag.TileWidth, w)
    t.set(Tag.TileLength, h)
    t.set(Tag.Orientation, Orientation.Horizontal)
    t.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    t.set(Tag.SamplesPerPixel, 1)
    t.set(Tag.BitsPerSample, 12)
    t.set(Tag.CFARepeatPatternDim, [2, 2])
    t.set(Tag.CFAPattern, CFAPattern.RGGB)
    t.set(Tag.BlackLevel, BLACK)
    t.set(Tag.WhiteLevel, WHITE)
    t.set(Tag.ColorMatrix1, _rationals(XYZ_TO_SRGB))
    t.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    t.set(Tag.AsShotNeutral, _rationals(neutral))
    t.set(Tag.BaselineExposure, [[0, 100]])
    t.set(Tag.Make, make)
    t.set(Tag.Model, model)
    t.set(Tag.UniqueCameraModel, f"{make} {model}")
    exp = Fraction(exposure_time).limit_denominator(100000)
    t.set(Tag.ExposureTime, [[exp.numerator, exp.denominator]])
    fn = Fraction(f_number).limit_denominator(100)
    t.set(Tag.FNumber, [[fn.numerator, fn.denominator]])
    t.set(Tag.PhotographicSensitivity, [iso])
    t.set(Tag.DateTimeOriginal, when)
    t.set(Tag.DNGVersion, DNGVersion.V1_4)
    t.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    writer = RAW2DNG()
    writer.options(t, path="", compress=False)
    writer.convert(raw, filename=str(path.with_suffix("")))
    return path.with_suffix(".dng")


def dng_bracket(folder: Path, scene_srgb: np.ndarray, exposures: Sequence[float] = (0.25, 1.0, 4.0), *,
                base_time: float = 1 / 60, names: Sequence[str] | None = None) -> list[Path]:
    """Write one DNG per exposure multiplier of ``scene_srgb`` (``(H, W, 3)`` in [0, 1]).

    The x1 frame's linear values equal the scene's; frame ``k`` has exposure time
    ``base_time * exposures[k]`` (ISO 100, f/8), so EXIF and pixels agree.
    """
    lin = srgb_to_linear(scene_srgb)
    names = names or [f"frame_{i}.dng" for i in range(len(exposures))]
    out = []
    for i, (e, name) in enumerate(zip(exposures, names)):
        out.append(write_dng(folder / name, mosaic(lin * e), exposure_time=base_time * e,
                             when=f"2026:05:01 10:00:0{i}"))
    return out
