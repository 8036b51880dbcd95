"""CBM teacher labels: any registered method, on the pair or the whole stack, cached by name + params + weights."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest

import mefkit
from mefkit.train.stacks import Stack, draw_pair
from mefkit.methods.cbm.teacher_labels import (
    TeacherLabels,
    TeacherPairSource,
    TeacherSpec,
    all_pairs,
    choose_pairs,
    teacher_key,
    teacher_weights,
)

from .conftest import make_bracket


@pytest.fixture
def stack(tmp_path) -> Stack:
    frames = make_bracket(24, 32, n=4, seed=3)
    paths = []
    for k, f in enumerate(frames):
        p = tmp_path / "src" / "scene" / f"{k + 1:02d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), np.round(f[:, :, ::-1] * 255).astype(np.uint8))
        paths.append(p)
    return Stack("src", "scene", tuple(paths))


def test_all_pairs_is_exactly_what_draw_pair_draws():
    # Plumbing check (the code against itself): the engine's own pair draw, sampled many times.
    rng = np.random.default_rng(0)
    for n in (3, 4, 7, 9):
        drawn = {draw_pair(n, rng) for _ in range(3000)}
        assert drawn == set(all_pairs(n))


def test_choose_pairs_keeps_extreme_pair_and_is_seeded(stack):
    pairs = choose_pairs(stack, 2, seed=5)
    assert len(pairs) == 2 and pairs[0] == (0, 3)
    assert pairs == choose_pairs(stack, 2, seed=5)
    assert choose_pairs(stack, 0, seed=5) == all_pairs(4)


def test_pair_label_is_the_teacher_on_the_pair_and_is_cached(stack, tmp_path):
    # Plumbing check (the code against itself): the label equals mefkit.fuse(teacher) on the same downscaled pair, to
    # 16-bit PNG precision; the second request hits the cache (no teacher time).
    labels = TeacherLabels(TeacherSpec("mertens"), tmp_path / "cache", max_side=32)
    png, sec = labels.ensure(stack, 0, 3)
    assert png.is_file() and sec > 0
    assert labels.ensure(stack, 0, 3)[1] == 0.0
    u, o = labels.frames(stack, (0, 3))
    ref = mefkit.fuse([u, o], method="mertens", order="given")
    np.testing.assert_allclose(labels.label(stack, 0, 3), ref, atol=1 / 65535 + 1e-6)


def test_cache_key_has_teacher_name_params_and_input(stack):
    base = teacher_key(stack, 0, 3, TeacherSpec("mertens"), 512)
    assert base != teacher_key(stack, 0, 3, TeacherSpec("mertens", {"sigma": 0.3}), 512)
    assert base != teacher_key(stack, 0, 3, TeacherSpec("mertens", input="stack"), 512)
    assert base != teacher_key(stack, 1, 3, TeacherSpec("mertens"), 512)
    assert base != teacher_key(stack, 0, 3, TeacherSpec("mertens"), 256)
    # a whole-stack label does not depend on the pair
    s = TeacherSpec("mertens", input="stack")
    assert teacher_key(stack, 0, 3, s, 512) == teacher_key(stack, 1, 2, s, 512)


def test_classic_teacher_key_is_unchanged_by_the_weights_field(stack):
    # Hand-written reference: the key formula before weights joined it (hand-written here), so existing
    # classic-teacher caches stay valid; a classic teacher has no weights.
    spec = TeacherSpec("mertens")
    blob = json.dumps([stack.id, stack.fingerprint(), [0, 3], "mertens", {}, 512], sort_keys=True, default=str)
    assert teacher_key(stack, 0, 3, spec, 512) == hashlib.sha1(blob.encode()).hexdigest()[:20]
    assert teacher_weights(spec, "classic") == {}
    assert teacher_key(stack, 0, 3, spec, 512, {}) == teacher_key(stack, 0, 3, spec, 512)


def test_learned_teacher_key_follows_shipped_weights_content(stack, tmp_path, monkeypatch):
    # Reference: hashlib's sha256 of the file bytes. Rewriting the shipped weights under the SAME
    # name (a retrained teacher) must give new label paths: stale labels were the bug.
    import mefkit.methods.cbm.teacher_labels as tl

    from types import SimpleNamespace

    shipped = tmp_path / "weights"
    shipped.mkdir()
    w = shipped / "mitm_translators.safetensors"
    monkeypatch.setattr(tl, "shipped_weights", lambda name: SimpleNamespace(path=w) if name == "mitm" else None)
    w.write_bytes(b"weights before the fix")
    before = TeacherLabels(TeacherSpec("mitm"), tmp_path / "c")
    assert before.weights == {w.name: hashlib.sha256(b"weights before the fix").hexdigest()}
    w.write_bytes(b"weights after the dev-scene exclusion fix")
    after = TeacherLabels(TeacherSpec("mitm"), tmp_path / "c")
    assert after.weights == {w.name: hashlib.sha256(b"weights after the dev-scene exclusion fix").hexdigest()}
    assert before.path(stack, 0, 3) != after.path(stack, 0, 3)


def test_mitm_teacher_labels_carry_the_shipped_translators_hash(stack, tmp_path):
    # Plumbing check (the code against itself): mefkit.fuse("mitm") on the same downscaled pair (16-bit PNG precision), and
    # sha256 of the shipped translator file in the label's metadata (the default teacher).
    from mefkit.methods.mitm import WEIGHTS

    labels = TeacherLabels(TeacherSpec("mitm"), tmp_path / "cache", max_side=32)
    shipped = WEIGHTS.path
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert labels.weights == {shipped.name: digest}
    png, _ = labels.ensure(stack, 0, 3)
    assert json.loads(png.with_suffix(".json").read_text())["weights"] == {shipped.name: digest}
    u, o = labels.frames(stack, (0, 3))
    ref = mefkit.fuse([u, o], method="mitm", order="given")
    np.testing.assert_allclose(labels.label(stack, 0, 3), ref, atol=1 / 65535 + 1e-6)


def test_teacher_weights_param_replaces_shipped_weights(tmp_path):
    # Reference: hashlib's sha256 of the user's file; the shipped files are not consulted then.
    user = tmp_path / "mine.safetensors"
    user.write_bytes(b"user weights")
    got = teacher_weights(TeacherSpec("mitm", {"weights": str(user)}), "learned")
    assert got == {"weights:mine.safetensors": hashlib.sha256(b"user weights").hexdigest()}


def test_stack_teacher_fuses_every_frame(stack, tmp_path):
    labels = TeacherLabels(TeacherSpec("mertens", input="stack"), tmp_path / "c", max_side=32)
    ref = mefkit.fuse(labels.frames(stack, range(4)), method="mertens", order="given")
    np.testing.assert_allclose(labels.label(stack, 1, 2), ref, atol=1 / 65535 + 1e-6)
    summary = labels.build({stack.id: (stack, [(0, 3), (1, 2)])})
    assert summary["labels"] == 1  # one shared whole-stack label


def test_unknown_teacher_fails_early(tmp_path):
    with pytest.raises(mefkit.MethodError):
        TeacherLabels(TeacherSpec("no_such_method"), tmp_path)


def test_source_samples_aligned_crops(stack, tmp_path):
    # Property: with flips off, the crop of the label sits where the crop of the inputs is.
    labels = TeacherLabels(TeacherSpec("mertens"), tmp_path / "cache", max_side=32)
    src = TeacherPairSource({stack.id: (stack, [(0, 3)])}, labels)
    s = src.sample(np.random.default_rng(1), 16, False, False)
    assert {k: v.shape for k, v in s.items()} == {k: (16, 16, 3) for k in ("under", "over", "label")}
    full = src.pair(stack, 0, 3)
    hits = [(y, x) for y in range(9) for x in range(17)
            if np.array_equal(full["under"][y:y + 16, x:x + 16], s["under"])]
    assert hits
    y, x = hits[0]
    np.testing.assert_array_equal(full["label"][y:y + 16, x:x + 16], s["label"])


def test_kframe_pairs_are_neighbours_of_random_brackets_with_every_gap():
    from pathlib import Path

    from mefkit.methods.cbm.teacher_labels import kframe_pairs
    from mefkit.train.stacks import Stack

    rng = np.random.default_rng(0)
    pairs = kframe_pairs(9, 30, rng)
    assert len(pairs) == len(set(pairs)) == 30
    assert all(0 <= u < o < 9 for u, o in pairs)
    gaps = {o - u for u, o in pairs}
    assert 1 in gaps and max(gaps) >= 4  # adjacent frames (K = 9) and wide gaps (small K)
    # the halves rule never pairs two frames of the same half, which a long bracket's chain does
    nine = Stack("s", "nine", tuple(Path(f"{i}.jpg") for i in range(9)))
    kf = choose_pairs(nine, 8, seed=3, rule="kframe")
    assert kf[0] == (0, 8) and len(kf) == 8 and kf == choose_pairs(nine, 8, seed=3, rule="kframe")
    assert any(o <= 4 for _, o in kf[1:]) or any(u >= 4 for u, _ in kf[1:])
    assert not any(o <= 3 for _, o in choose_pairs(nine, 0, seed=3))  # halves: over from the upper half
    with pytest.raises(ValueError, match="pair rule"):
        choose_pairs(nine, 8, seed=3, rule="random")
