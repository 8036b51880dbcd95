"""Training data: exclusion of evaluation scenes, pair draw, crops, sampler, synthetic, SICE, labels."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest
import torch

from mefkit.train.augment import sample_rng
from mefkit.train.config import DataConfig
from mefkit.train.data import StackSource, StepSampler, SyntheticSource, TrainPairs, build_data
from mefkit.train.exclusion import exclusion_reason, normalize_scene_name
from mefkit.train.labels import build_stack_labels, classic_candidates, load_label
from mefkit.train.sice import find_sequences, make_split_list, read_split_list
from mefkit.train.stacks import draw_pair, find_stacks, split_excluded
from mefkit.train.synthetic import simulate_pair
from tests.conftest import make_bracket, shared_path


# -- exclusion ---------------------------------------------------------------------------
def test_exclusion_rules():
    # Hand-made cases for every rule of the exclusion function.
    evals = {normalize_scene_name(n) for n in ("Memorial", "BloomingGorse", "Knossos6", "Bathtub", "Set", "Window2")}
    assert exclusion_reason("pmef_madb", "Anything", evals)  # evaluation source folders
    assert exclusion_reason("pmef_mefb_src", "Chair", evals)
    assert exclusion_reason("ssarcandy", "memorial", evals)  # case-insensitive
    assert exclusion_reason("pmef_hdrps", "BloomingGorse_2", evals)  # survey variant tag
    assert exclusion_reason("x", "Blooming-Gorse", evals)  # punctuation ignored
    assert exclusion_reason("pmef_hdrps", "DevilsBathtub", evals)  # known alias
    assert exclusion_reason("cvp", "Debevec Memorial", evals)  # Debevec memorial vs MEFB Memorial
    assert exclusion_reason("pmef_dataset3", "Knossos6", evals)
    assert exclusion_reason("pmef_dataset3", "Knossos5", evals) is None  # a different scene number
    assert exclusion_reason("pmef_hdrps", "BandonSunset_1", evals) is None  # "set" is no substring rule
    assert exclusion_reason("x", "Window", evals) is None  # Window2 is another MEFB scene


@pytest.mark.slow
def test_exclusion_on_shared_data():
    # Property on the real data: nothing kept for training shares a (normalised) name with a
    # development scene, and the evaluation source folders are wholly excluded.
    root = shared_path("train_stacks")
    data = root.parent
    stacks = find_stacks(root)
    kept, excluded = split_excluded(stacks, [data / "mefb", data / "mef_database", data / "memorial"])
    eval_names = {normalize_scene_name(p.name) for d in ("mefb", "mef_database", "memorial")
                  for p in (data / d).iterdir() if p.is_dir()}
    assert kept and excluded
    assert not any(normalize_scene_name(s.scene) in eval_names for s in kept)
    assert not any(s.source in ("pmef_madb", "pmef_mefb_src") for s in kept)
    assert "ssarcandy/memorial" in excluded and "pmef_hdrps/BloomingGorse_1" in excluded
    # Content rule: MEFB ICCV_04 is a frame of DeepFuse's Seq_19 under another name.
    assert "mefb/ICCV_04" in excluded["pmef_deepfuse/Seq_19"]


def test_content_duplicate_excluded(tmp_path):
    # A stack whose frame is the evaluation image at another exposure (gamma-darkened, then
    # JPEG-saved) is excluded by content although its name differs; a different scene is kept.
    from mefkit.train.exclusion import content_matches, eval_images

    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.random((120, 180)).astype(np.float32), (0, 0), 4)
    scene = (scene - scene.min()) / (scene.max() - scene.min())
    other = cv2.GaussianBlur(rng.random((120, 180)).astype(np.float32), (0, 0), 4)
    other = (other - other.min()) / (other.max() - other.min())
    (tmp_path / "mefb" / "Hall").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "mefb" / "Hall" / "under.png"), (scene * 255).astype(np.uint8))
    for name, img in (("renamed", scene**2.2 * 0.6), ("different", other)):
        folder = tmp_path / "stacks" / "src" / name
        folder.mkdir(parents=True)
        for k in range(3):
            cv2.imwrite(str(folder / f"{k + 1:02d}.jpg"), (np.clip(img * (0.5 + 0.5 * k), 0, 1) * 255).astype(np.uint8))
    stacks = find_stacks(tmp_path / "stacks")
    found = content_matches(stacks, eval_images([tmp_path / "mefb"]))
    assert list(found) == ["src/renamed"] and "mefb/Hall/under.png" in found["src/renamed"]


# -- pair draw, crops, sampler -----------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 4, 7, 9, 16])
def test_draw_pair_bounds(n):
    # Property: under < over, under from the darker half, over from the brighter half.
    for key in range(200):
        u, o = draw_pair(n, sample_rng(0, key))
        assert 0 <= u < o < n
        assert u < max(1, int(np.ceil(n / 2))) and o >= min(n - 1, max(1, n // 2))



def test_extreme_share_takes_darkest_and_brightest():
    # Share 0: exactly draw_pair's draws from the same generator (old runs unchanged);
    # share 1: always (0, n - 1); share 0.5: extremes in about 0.5 + 0.5 * P(draw_pair
    # gives them) of the draws (n = 7: P = 1/4 * 1/4, so about 0.53); bad shares refused.
    plain = StackSource([], {})
    assert [plain.draw(7, sample_rng(0, k)) for k in range(100)] == [draw_pair(7, sample_rng(0, k)) for k in range(100)]
    assert {StackSource([], {}, extreme_share=1.0).draw(7, sample_rng(0, k)) for k in range(50)} == {(0, 6)}
    half = StackSource([], {}, extreme_share=0.5)
    share = np.mean([half.draw(7, sample_rng(0, k)) == (0, 6) for k in range(4000)])
    assert abs(share - (0.5 + 0.5 / 16)) < 0.03
    with pytest.raises(ValueError, match="extreme_share"):
        StackSource([], {}, extreme_share=1.5)

def _synthetic_pairs(tmp_path, seed, swap=False):
    img = (np.clip(make_bracket(90, 110, n=3, seed=1)[1], 0, 1) * 255).astype(np.uint8)
    path = tmp_path / "img.png"
    cv2.imwrite(str(path), img[:, :, ::-1])
    return TrainPairs([(SyntheticSource([path], max_side=0), 1.0)], seed=seed, crop=32, swap=swap, length=16)


def test_crops_deterministic_by_seed(tmp_path):
    # Property: the same (seed, key) gives the same sample in a fresh dataset object (what an
    # exact resume and any worker count rely on); another key or seed gives another sample.
    a, b, c = _synthetic_pairs(tmp_path, 3), _synthetic_pairs(tmp_path, 3), _synthetic_pairs(tmp_path, 4)
    for key in (0, 5, 123):
        sa, sb = a[key], b[key]
        for k in ("under", "over", "label"):
            assert torch.equal(sa[k], sb[k])
    assert not torch.equal(a[0]["label"], a[1]["label"])
    assert not torch.equal(a[0]["label"], c[0]["label"])
    s = a[0]
    assert s["under"].shape == (3, 32, 32) and s["under"].dtype == torch.float32
    loader = torch.utils.data.DataLoader(a, batch_size=4, num_workers=0)
    batch = next(iter(loader))
    assert batch["label"].shape == (4, 3, 32, 32)


def test_step_sampler_keys():
    # Hand-computed: batch 2, world 2: step 0 -> rank 0 keys 0,1 and rank 1 keys 2,3; step 1 ->
    # 4,5 / 6,7. A resumed sampler continues the same stream.
    r0 = list(StepSampler(2, 2, rank=0, world=2))
    r1 = list(StepSampler(2, 2, rank=1, world=2))
    assert r0 == [0, 1, 4, 5] and r1 == [2, 3, 6, 7]
    assert list(StepSampler(3, 4, start_step=2)) == list(StepSampler(3, 4))[6:]


def test_swap_only_when_allowed(tmp_path):
    # Property: without swap the under input is always the darker one; with swap, some are swapped.
    plain, swapped = _synthetic_pairs(tmp_path, 0), _synthetic_pairs(tmp_path, 0, swap=True)
    darker = [bool(plain[k]["under"].mean() < plain[k]["over"].mean()) for k in range(20)]
    assert all(darker)
    assert not all(bool(swapped[k]["under"].mean() < swapped[k]["over"].mean()) for k in range(20))


# -- synthetic ---------------------------------------------------------------------------
def test_simulated_pair():
    # Properties: the label is the source image; the under frame is darker and the over
    # frame brighter than it; values stay in [0, 1] and on 8-bit levels.
    src = make_bracket(40, 40, n=3, seed=2)[1]
    out = simulate_pair(src, np.random.default_rng(0), with_mid=True)
    assert np.array_equal(out["label"], src)
    assert out["under"].mean() < src.mean() < out["over"].mean()
    for k in ("under", "over", "mid"):
        assert out[k].min() >= 0 and out[k].max() <= 1
        assert np.allclose(out[k] * 255, np.round(out[k] * 255), atol=1e-3)


# -- SICE --------------------------------------------------------------------------------
def test_shipped_split_list():
    # Oracle: the thesis's split sizes (360 train + 93 test) and the generator that made the file.
    split = read_split_list()
    assert len(split["train"]) == 360 and len(split["test"]) == 93
    assert not set(split["train"]) & set(split["test"])
    assert [seq for sub, seq in make_split_list() if sub == "test"] == split["test"]


def test_sice_reader_filter(tmp_path):
    # A fake official layout: sequence 1 has 7 frames and a label, 2 has only 5 frames, 3 no
    # label: only sequence 1 is used for indices 1 and 7, with a warning naming the drops.
    part = tmp_path / "Dataset_Part1"
    (part / "Label").mkdir(parents=True)
    tiny = np.zeros((8, 8, 3), np.uint8)
    for seq, n, label in (("1", 7, True), ("2", 5, True), ("3", 7, False)):
        (part / seq).mkdir()
        for i in range(1, n + 1):
            cv2.imwrite(str(part / seq / f"{i}.JPG"), tiny + 20 * i)
        if label:
            cv2.imwrite(str(part / "Label" / f"{seq}.JPG"), tiny)
    with pytest.warns(UserWarning, match="1 sequences used"):
        seqs = find_sequences(tmp_path, "train", 1, 7)
    assert [s.seq for s in seqs] == ["1"]
    assert [p.name for p in seqs[0].frames] == [f"{i}.JPG" for i in range(1, 8)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [s.seq for s in find_sequences(tmp_path, "train", 1, 5)] == ["1", "2"]


# -- stack labels ------------------------------------------------------------------------
def _fake_stacks(root, names=("src/sceneA", "src/sceneB", "src/Memorial")):
    for i, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True)
        for k, frame in enumerate(make_bracket(48, 56, n=3, seed=i)):
            cv2.imwrite(str(folder / f"{k + 1:02d}.jpg"), (frame[:, :, ::-1] * 255).astype(np.uint8))
    return root


def test_labels_choose_best_and_cache(tmp_path, monkeypatch):
    # Properties: the chosen method is the one with the highest MEF-SSIM (a stand-in score
    # here, so the oracle is known: dem scores highest); scores and the choice are logged; a
    # second build reads the cache instead of fusing again.
    import mefkit.train.labels as labels_mod

    fake_scores = {"mertens": 0.5, "dem": 0.9}
    calls = []

    def fake_fuse(frames, method, order, **p):
        calls.append(method)
        return np.full_like(frames[0], fake_scores[method])

    monkeypatch.setattr(labels_mod, "_mef_ssim_fn", lambda: (lambda frames, fused: float(fused.mean())))
    monkeypatch.setattr("mefkit.api.fuse", fake_fuse)
    stacks = find_stacks(_fake_stacks(tmp_path / "stacks"))[:2]
    choices = build_stack_labels(stacks, tmp_path / "cache", methods=["mertens", "dem"], max_side=32)
    assert {c.method for c in choices.values()} == {"dem"}
    assert sorted(calls) == ["dem", "dem", "mertens", "mertens"]
    lab = load_label(choices[stacks[0].id].path)
    assert lab.shape == (27, 32, 3) and abs(float(lab.mean()) - 0.9) < 1e-4  # 56x48 -> max side 32
    log = json.loads((tmp_path / "cache" / "choices.json").read_text())
    assert log[stacks[0].id]["scores"] == {"dem": pytest.approx(0.9, abs=1e-6), "mertens": pytest.approx(0.5, abs=1e-6)}
    assert (tmp_path / "cache" / "choices.csv").read_text().startswith("stack,method,score,dem,mertens")
    calls.clear()
    build_stack_labels(stacks, tmp_path / "cache", methods=["mertens", "dem"], max_side=32)
    assert calls == []
    build_stack_labels(stacks, tmp_path / "cache", methods=["mertens", "dem"], max_side=32, refresh=["dem"])
    assert calls == ["dem", "dem"]


def test_classic_candidates_are_registered_classics():
    # Property: only registered methods of kind "classic"; skip removes names.
    from mefkit.registry import method_infos

    classic = {i.name for i in method_infos() if i.kind == "classic"}
    got = classic_candidates(3)
    assert set(got) == classic and "mertens" in got
    assert "mertens" not in classic_candidates(3, skip=["mertens"])


def test_build_data_end_to_end(tmp_path):
    # Mertens-labelled fake stacks: the scene named like an evaluation scene is excluded, one
    # scene is held out for validation, samples have the crop size and full-size val pairs.
    root = _fake_stacks(tmp_path / "data" / "train_stacks", ("s/a", "s/b", "s/c", "s/Memorial"))
    (tmp_path / "data" / "mefb" / "Memorial").mkdir(parents=True)
    cfg = DataConfig(stacks=str(root), label_cache=str(tmp_path / "cache"), label_methods=("mertens",),
                     crop=24, max_side=0, val_scenes=1, synthetic="labels", synthetic_fraction=0.5)
    bundle = build_data(cfg, seed=0)
    assert bundle.info["excluded"] == {"s/Memorial": "scene name 'Memorial' matches an evaluation scene"}
    assert bundle.info["val_stacks"] == ["s/c"]
    assert bundle.info["sources"] == {"stacks": 2, "synthetic": 2}
    sources = {bundle.train[k]["source"] for k in range(30)}
    assert sources == {"stacks", "synthetic"}
    assert bundle.train[0]["label"].shape == (3, 24, 24)
    assert len(bundle.val) == 1 and bundle.val[0]["under"].shape == (3, 48, 56)


def test_data_manifest_freezes_choices(tmp_path):
    # Property: a run folder's data.json fixes the stacks and labels; rebuilding for a resume
    # after the candidate methods changed still uses the recorded labels.
    root = _fake_stacks(tmp_path / "data" / "train_stacks", ("s/a", "s/b", "s/c"))
    cfg = DataConfig(stacks=str(root), label_cache=str(tmp_path / "cache"), label_methods=("mertens",),
                     crop=24, max_side=0, val_scenes=1)
    first = build_data(cfg, seed=0, run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "data.json").is_file()
    assert (tmp_path / "run" / "choices.csv").is_file()  # the run logs its label choice itself
    assert not (tmp_path / "cache" / "choices.csv").exists()  # and leaves the shared cache's log alone
    cfg.label_methods = ("dem",)
    again = build_data(cfg, seed=0, run_dir=tmp_path / "run")
    assert again.info["stacks"] == first.info["stacks"]
    assert {c["method"] for c in again.info["stacks"]["labels"].values()} == {"mertens"}
    assert torch.equal(again.train[3]["label"], first.train[3]["label"])
    # A label rewritten in the cache since the run started is reported (the resume is not exact).
    path = next(iter(first.info["stacks"]["labels"].values()))["path"]
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(path, 65535 - img)
    with pytest.warns(UserWarning, match="labels changed since this run started"):
        build_data(cfg, seed=0, run_dir=tmp_path / "run")


def test_split_validation_keeps_scene_variants_together():
    # Property: captures of one scene (name_1, name_2) are never split between train and val.
    from pathlib import Path

    from mefkit.train.data import split_validation
    from mefkit.train.stacks import Stack

    # 20 stacks: the validation share (at most a fifth, see validation_count) allows 3.
    names = ["A_1", "A_2", "B", "C_1", "C_2", "D", "E", "F"] + [f"G{i}" for i in range(12)]
    stacks = [Stack("src", n, (Path(f"{n}.jpg"),)) for n in names]
    train, val = split_validation(stacks, 3)
    assert len(val) >= 3 and train
    groups = lambda ss: {normalize_scene_name(s.scene) for s in ss}  # noqa: E731
    assert not groups(train) & groups(val)
    assert split_validation(stacks, 3) == (train, val)  # fixed draw
