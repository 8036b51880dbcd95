"""Without torch (``pip install mefkit``, no extras): classic methods, metrics, eval and
``mefkit methods`` work, and a learned method stops with one line naming the extra.

Each check runs in a subprocess whose ``sitecustomize`` puts a meta-path hook in front
that refuses torch and safetensors, as an install without the ``learned`` extra would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mefkit.example import example_bracket

SRC = Path(__file__).resolve().parents[1] / "src"

BLOCK_TORCH = textwrap.dedent(
    """
    import sys

    class _NoTorch:
        # what an install without the learned extra lacks
        BLOCKED = ("torch", "safetensors", "torchmetrics", "torchvision")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoTorch())
    """
)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(BLOCK_TORCH)
    path = [str(hook), str(SRC)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "COLUMNS": "200"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600,
                          cwd=tmp_path)


def test_the_hook_really_blocks_torch(tmp_path):
    # The guard of the checks below: if torch could still be imported they would prove nothing.
    res = _run(tmp_path, "-c", "import torch")
    assert res.returncode != 0 and "No module named 'torch'" in res.stderr


def test_library_lists_fuses_and_scores_without_torch(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import mefkit
        from mefkit.example import example_bracket
        from mefkit.metrics import mef_ssim, psnr, ssim
        names = mefkit.available_methods()
        assert {"mertens", "progressive", "cbm", "mitm"} <= set(names), names
        frames = [str(p) for p in example_bracket()]
        out = mefkit.fuse(frames, method="mertens")
        bracket = mefkit.api.load_frames(frames)
        print(round(mef_ssim(bracket.frames, out), 4), round(ssim(out, bracket.frames[1]), 4))
        assert "torch" not in sys.modules
        """
    )
    res = _run(tmp_path, "-c", code)
    assert res.returncode == 0, res.stderr
    score = float(res.stdout.split()[0])
    assert 0.8 < score <= 1.0


def test_cli_methods_fuse_and_eval_without_torch(tmp_path):
    res = _run(tmp_path, "-m", "mefkit", "methods")
    assert res.returncode == 0, res.stderr
    assert "progressive" in res.stdout and "mertens" in res.stdout
    frames = [str(p) for p in example_bracket()]
    res = _run(tmp_path, "-m", "mefkit", "fuse", *frames, "-o", str(tmp_path / "fused.png"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "fused.png").stat().st_size > 0
    scene = tmp_path / "data" / "coffee"
    scene.mkdir(parents=True)
    for f in frames:
        shutil.copy(f, scene)
    res = _run(tmp_path, "-m", "mefkit", "eval", str(tmp_path / "data"), "--methods", "mertens",
               "--metrics", "mef_ssim", "-o", str(tmp_path / "report"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "report" / "results.csv").is_file()


@pytest.mark.parametrize("method", ["progressive", "cbm", "mitm"])
def test_learned_method_without_torch_stops_with_one_line_naming_the_extra(tmp_path, method):
    frames = [str(p) for p in example_bracket()]
    res = _run(tmp_path, "-m", "mefkit", "fuse", *frames, "-m", method, "-o", str(tmp_path / "fused.png"))
    assert res.returncode == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and 'pip install "mefkit[learned]"' in lines[0], res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "fused.png").exists()


def test_training_without_torch_stops_with_one_line(tmp_path):
    res = _run(tmp_path, "-m", "mefkit", "train", "cbm", "--data", str(tmp_path), "--out", str(tmp_path / "run"))
    assert res.returncode == 2
    assert 'pip install "mefkit[learned]"' in res.stderr and "Traceback" not in res.stderr
