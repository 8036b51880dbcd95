"""Shared check: a classic method against its authors' outputs published by MEFB."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .conftest import shared_path


def check_against_authors_outputs(fuse: Callable[[list[np.ndarray]], np.ndarray], ref_stem: str,
                                  scenes: Sequence[str], jpeg_min_psnr: float) -> None:
    """Assert that ``fuse`` reproduces MEFB's ``fused/<ref_stem>.*`` on ``scenes``.

    PNG references are lossless, so they must agree almost exactly (PSNR > 60 dB). JPEG
    references carry MATLAB's quality-75 compression: per pair PSNR > ``jpeg_min_psnr``,
    and our output written the same way must be the same file (within one level). Over
    all pairs (the faithfulness thresholds): mean PSNR >= 30 dB, mean MEF-SSIM within 0.01 of
    the authors'. Skips when the development data is absent.
    """
    import cv2

    from mefkit.io import read_image
    from mefkit.metrics import mef_ssim, psnr

    root = shared_path("mefb")
    scores, q_ours, q_theirs = [], [], []
    for scene in scenes:
        folder = root / scene
        frames = [read_image(next(folder.glob(f"{n}.*")))[0] for n in ("under", "over")]
        ref_path = next((folder / "fused").glob(f"{ref_stem}.*"))
        ref = read_image(ref_path)[0]
        ours = np.round(fuse(frames) * 255) / 255
        p = psnr(ours, ref)
        scores.append(p)
        if ref_path.suffix == ".png":
            assert p > 60, (scene, p)
        else:
            assert p > jpeg_min_psnr, (scene, p)
            u8 = cv2.cvtColor((ours * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR)
            buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, 75])[1]
            back = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) / 255.0
            assert np.abs(back - ref).max() <= 1 / 255 + 1e-6, scene
        q_ours.append(mef_ssim(frames, ours))
        q_theirs.append(mef_ssim(frames, ref))
    assert np.mean(np.minimum(scores, 100)) >= 30
    assert abs(np.mean(q_ours) - np.mean(q_theirs)) <= 0.01
