"""``mefkit train``: the command line over the engine (tiny toy model, a few steps)."""

from __future__ import annotations

import json

import cv2
import numpy as np
from typer.testing import CliRunner

from mefkit.cli import app
from tests.conftest import make_bracket

runner = CliRunner()


def _image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    img = (make_bracket(64, 80, n=3, seed=0)[1] * 255).astype(np.uint8)
    cv2.imwrite(str(folder / "a.png"), img[:, :, ::-1])
    return folder


def test_train_resume_and_refusals(tmp_path):
    # Properties: a run writes its config and weights; --resume continues to the new --steps
    # from the saved config; changing a result-defining option on resume is refused; a VGG
    # loss without weights stops with the message and exit status 2.
    images, out = _image_folder(tmp_path), tmp_path / "run"
    base = ["train", "tiny", "--out", str(out), "--synthetic", str(images), "--batch", "2", "--crop", "32",
            "--no-progress", "--device", "cpu"]
    res = runner.invoke(app, [*base, "--steps", "2", "--checkpoint-every", "1"])
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["steps"] == 2 and cfg["batch"] == 2 and cfg["data"]["crop"] == 32 and cfg["optim"]["betas"] == [0.5, 0.999]
    assert (out / "net.safetensors").is_file()
    res = runner.invoke(app, ["train", "tiny", "--out", str(out), "--resume", "--steps", "3", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "config.json").read_text())["steps"] == 3
    assert "3," in (out / "log.csv").read_text()
    res = runner.invoke(app, ["train", "tiny", "--out", str(out), "--resume", "--steps", "4", "--crop", "48"])
    assert res.exit_code == 2 and "differs from the saved one in data" in res.output
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "vgg"), "--steps", "1", "--lambda-vgg", "0.01"])
    assert res.exit_code == 2 and "--vgg-weights PATH" in res.output and "--lambda-vgg 0" in res.output


def test_train_needs_data(tmp_path):
    res = runner.invoke(app, ["train", "tiny", "--out", str(tmp_path / "r"), "--steps", "1"])
    assert res.exit_code == 2 and "no training data" in res.output
