"""The test pairs of the deep methods' published results are kept out of training."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mefkit.train.exclusion import EVAL_ROOTS, content_matches, default_eval_roots, eval_images, eval_scene_names
from mefkit.train.stacks import find_stacks, split_excluded
from tests.conftest import shared_path


def _smooth_noise(seed: int, shape=(120, 180)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 4)
    return (img - img.min()) / (img.max() - img.min())


def test_deep_published_is_an_evaluation_root(tmp_path):
    assert "deep_published" in EVAL_ROOTS
    from mefkit.devdata import eval_roots
    assert tmp_path / "deep_published" in eval_roots(tmp_path)
    assert tmp_path / "deep_published" in default_eval_roots(tmp_path)


def test_deep_published_pair_excludes_its_stack(tmp_path):
    # A training stack that holds a deep_published test pair's picture (re-exposed, JPEG,
    # another name) is excluded by the default roots; a different scene is kept.
    scene, other = _smooth_noise(1), _smooth_noise(2)
    pair = tmp_path / "deep_published" / "dpe_mef_9"
    (pair / "fused").mkdir(parents=True)
    cv2.imwrite(str(pair / "under.png"), (scene * 255).astype(np.uint8))
    cv2.imwrite(str(pair / "over.png"), (np.sqrt(scene) * 255).astype(np.uint8))
    cv2.imwrite(str(pair / "fused" / "DPE-MEF.png"), (other * 255).astype(np.uint8))  # not an input
    for name, img in (("Sunrise", scene), ("Elsewhere", other)):
        folder = tmp_path / "train_stacks" / "src" / name
        folder.mkdir(parents=True)
        for k in range(3):
            cv2.imwrite(str(folder / f"{k + 1:02d}.jpg"), (np.clip(img * (0.6 + 0.4 * k), 0, 1) * 255).astype(np.uint8))
    stacks = find_stacks(tmp_path / "train_stacks")
    kept, excluded = split_excluded(stacks, default_eval_roots(tmp_path))
    assert [s.id for s in kept] == ["src/Elsewhere"]
    assert "deep_published/dpe_mef_9" in excluded["src/Sunrise"]
    # the published result inside fused/ is no evaluation input and excludes nothing
    assert all("fused" not in str(p) for _, p in eval_images(default_eval_roots(tmp_path)))


def test_shared_deep_published_scenes_are_covered():
    # On the real data: every deep_published scene is an evaluation scene, and the one that
    # is also a training stack (dpe_mef_3 = pmef_hdrps/BarHarborSunrise) is caught by its
    # picture, not only by MEFB's name for it.
    deep = shared_path("deep_published")
    stacks_root = shared_path("train_stacks")
    scenes = sorted(p.name for p in deep.iterdir() if p.is_dir())
    assert len(scenes) == 13
    images = eval_images([deep])
    assert {name.split("/")[1] for name, _ in images} == set(scenes)
    assert {p.name for _, p in images} <= {"under.png", "over.png", "gt.png"}
    assert eval_scene_names(default_eval_roots(deep.parent)) >= eval_scene_names([deep])
    bar = [s for s in find_stacks(stacks_root) if s.id == "pmef_hdrps/BarHarborSunrise"]
    assert bar, "pmef_hdrps/BarHarborSunrise is no longer in train_stacks"
    found = content_matches(bar, images)
    assert "deep_published/dpe_mef_3" in found["pmef_hdrps/BarHarborSunrise"]


@pytest.mark.slow
def test_no_kept_training_stack_shows_a_deep_published_pair():
    # The property itself, over every stack the default exclusion keeps (~30 s).
    stacks_root = shared_path("train_stacks")
    data = stacks_root.parent
    shared_path("deep_published")
    kept, excluded = split_excluded(find_stacks(stacks_root), default_eval_roots(data))
    assert kept and excluded
    assert content_matches(kept, eval_images([data / "deep_published"])) == {}
