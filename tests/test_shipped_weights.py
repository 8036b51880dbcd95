"""The weights files mefkit ships: present, byte-identical to the pinned ones, documented.

A missing file is a failure, not a skip: the package is broken without it. The pins
catch any change to a file; whether a change *breaks* the method is what
``test_learned_quality.py`` checks (``scripts/mutation_run.py`` runs both against
deliberately altered files).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import mefkit

from .shipped import SHIPPED_FILES, SHIPPED_SHA256, model_card, sha256, weights_path

LEARNED = sorted(SHIPPED_FILES)


def test_every_learned_method_has_a_shipped_file_listed():
    # The table in tests/shipped.py covers exactly the registered learned methods.
    from mefkit.registry import method_infos

    assert {i.name for i in method_infos() if i.kind == "learned"} == set(SHIPPED_FILES)


@pytest.mark.parametrize("method", LEARNED)
def test_shipped_weights_sha256_is_pinned(method):
    path = weights_path(method)
    assert path.is_file(), f"shipped {method} weights missing: {path}"
    assert sha256(path) == SHIPPED_SHA256[method], f"{path} changed: update the pin, the model card and the regression references"


@pytest.mark.parametrize("method", LEARNED)
def test_registered_weights_spec_names_the_pinned_file(method):
    # The method's own WeightsSpec (what it loads by default, what its sha256 check
    # expects) agrees with the pin: same file, same digest.
    from mefkit.registry import get_method

    spec = get_method(method).weights
    assert spec.path.resolve() == weights_path(method)
    assert spec.sha256 == SHIPPED_SHA256[method]


@pytest.mark.parametrize("method", LEARNED)
def test_model_card_states_the_pinned_sha256(method):
    # The card beside the weights names the file and the same hash as the pin.
    card = model_card(method)
    assert card.is_file(), f"model card missing: {card}"
    text = card.read_text(encoding="utf-8")
    hashes = set(re.findall(r"`%s` sha256: `([0-9a-f]{64})`" % re.escape(weights_path(method).name), text))
    assert hashes == {SHIPPED_SHA256[method]}


@pytest.mark.parametrize("method", LEARNED)
def test_missing_weights_file_is_a_method_error(method, tmp_path):
    # A weights path that does not exist stops with an error naming it, never a fallback.
    frames = [np.full((16, 16, 3), v, np.float32) for v in (0.2, 0.8)]
    missing = tmp_path / "none.safetensors"
    with pytest.raises(mefkit.MethodError, match="not found"):
        mefkit.fuse(frames, method=method, weights=str(missing))
