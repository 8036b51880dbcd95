"""Write deliberately broken copies of mefkit's shipped weights (mutation testing).

Each mutation is a file in the shipped file's own format (same tensor names, shapes,
dtypes and metadata, plus a ``mutation`` metadata entry), so the method loads it like
the real one and only the numbers are wrong:

==============================  ==========================================================
``progressive_untrained``       both phases freshly initialised with the shipped config
                                (seed 0): the residual heads start at zero, so the output
                                is the mean of the two inputs
``progressive_head_zeroed``     phase 2's output head zeroed: phase 2 returns phase 1
``progressive_encoders_swapped`` phase 1's under- and over-exposure encoders exchanged
``progressive_noise10``         every parameter times ``1 + 0.1 N(0, 1)``
``mitm_untrained``              both translators freshly initialised (seed 0)
``mitm_swapped``                the under->over and over->under translators exchanged
``cbm_noise20``                 every parameter times ``1 + 0.2 N(0, 1)`` (BatchNorm
                                running statistics left alone: they are not weights)
==============================  ==========================================================

Usage::

    PYTHONPATH=src python scripts/mutate_weights.py OUT_DIR [--only NAME ...]

writes ``OUT_DIR/<mutation>.safetensors`` and prints one line per file. Which shipped
file each mutation replaces is :data:`MUTATIONS` (method name); the file itself is
found through ``tests/shipped.py``. ``scripts/mutation_run.py`` runs the tests against
each file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/shipped.py: the one place that knows the shipped files

from tests.shipped import weights_path  # noqa: E402

Tensors = dict[str, torch.Tensor]
Meta = dict[str, str]

#: Tensors that hold statistics, not learned weights: noise leaves them alone.
NOT_WEIGHTS = ("running_mean", "running_var", "num_batches_tracked")


def _class(module: str, name: str):
    """The class ``name`` of ``module`` (the networks the shipped files hold)."""
    return getattr(importlib.import_module(module), name)


PROGRESSIVE_NET = "mefkit.methods.progressive.network"
MITM_NET = "mefkit.methods.mitm.translator"


def read(path: Path) -> tuple[Tensors, Meta]:
    with safe_open(str(path), framework="pt") as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})


def _fresh(state: dict[str, torch.Tensor], prefix: str, like: Tensors) -> Tensors:
    """``state`` under ``prefix``, cast to the dtypes of the tensors it replaces."""
    out = {}
    for k, v in state.items():
        key = prefix + k
        if key not in like:
            raise KeyError(f"fresh model has {key!r}, the shipped file has not")
        out[key] = v.detach().to(like[key].dtype).contiguous()
    if set(out) != {k for k in like if k.startswith(prefix)}:
        raise KeyError(f"fresh model and shipped file disagree on the {prefix!r} tensors")
    return out


def progressive_untrained(t: Tensors, meta: Meta) -> Tensors:
    torch.manual_seed(0)
    unet = _class(PROGRESSIVE_NET, "IntermediateUNet")(_class(PROGRESSIVE_NET, "UNetConfig")(**json.loads(meta["unet_config"])))
    amnet = _class(PROGRESSIVE_NET, "AMNet")(_class(PROGRESSIVE_NET, "AMNetConfig")(**json.loads(meta["amnet_config"])))
    return {**_fresh(unet.state_dict(), "unet.", t), **_fresh(amnet.state_dict(), "amnet.", t)}


def progressive_head_zeroed(t: Tensors, meta: Meta) -> Tensors:
    heads = [k for k in t if k.startswith("amnet.head.")]
    assert heads, "no phase-2 head in the file"
    return {k: torch.zeros_like(v) if k in heads else v for k, v in t.items()}


def _swap_prefixes(t: Tensors, a: str, b: str) -> Tensors:
    out = {}
    for k, v in t.items():
        if k.startswith(a):
            out[b + k[len(a):]] = v
        elif k.startswith(b):
            out[a + k[len(b):]] = v
        else:
            out[k] = v
    assert out.keys() == t.keys(), f"{a!r} and {b!r} tensors do not pair up"
    return out


def progressive_encoders_swapped(t: Tensors, meta: Meta) -> Tensors:
    return _swap_prefixes(t, "unet.enc_u.", "unet.enc_o.")


def _noise(share: float) -> Callable[[Tensors, Meta], Tensors]:
    def mutate(t: Tensors, meta: Meta) -> Tensors:
        g = torch.Generator().manual_seed(0)
        out = {}
        for k, v in sorted(t.items()):
            if v.is_floating_point() and not k.endswith(NOT_WEIGHTS):
                factor = 1.0 + share * torch.randn(v.shape, generator=g)
                v = (v.float() * factor).to(v.dtype)
            out[k] = v
        return out

    return mutate


def mitm_untrained(t: Tensors, meta: Meta) -> Tensors:
    torch.manual_seed(0)
    config = _class(MITM_NET, "TranslatorConfig").from_dict(json.loads(meta["config"]))
    nets = [_class(MITM_NET, "Translator")(config) for _ in range(2)]
    return {**_fresh(nets[0].state_dict(), "lh.", t), **_fresh(nets[1].state_dict(), "hl.", t)}


def mitm_swapped(t: Tensors, meta: Meta) -> Tensors:
    return _swap_prefixes(t, "lh.", "hl.")


#: mutation name -> (learned method whose shipped file it replaces, how it alters it).
MUTATIONS: dict[str, tuple[str, Callable[[Tensors, Meta], Tensors]]] = {
    "progressive_untrained": ("progressive", progressive_untrained),
    "progressive_head_zeroed": ("progressive", progressive_head_zeroed),
    "progressive_encoders_swapped": ("progressive", progressive_encoders_swapped),
    "progressive_noise10": ("progressive", _noise(0.10)),
    "mitm_untrained": ("mitm", mitm_untrained),
    "mitm_swapped": ("mitm", mitm_swapped),
    "cbm_noise20": ("cbm", _noise(0.20)),
}


def write_mutation(name: str, out_dir: Path) -> Path:
    """Write mutation ``name`` of its method's shipped file to ``out_dir/<name>.safetensors``."""
    method, mutate = MUTATIONS[name]
    tensors, meta = read(weights_path(method))
    altered = mutate(tensors, meta)
    changed = [k for k in tensors if not torch.equal(tensors[k], altered[k])]
    if not changed:
        raise RuntimeError(f"{name}: the mutation changed nothing")
    out = out_dir / f"{name}.safetensors"
    save_file(altered, str(out), metadata={**meta, "mutation": name})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--only", nargs="+", choices=sorted(MUTATIONS), help="write only these mutations")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.only or MUTATIONS:
        path = write_mutation(name, args.out_dir)
        print(f"{name:30s} replaces {MUTATIONS[name][0]:12s} -> {path}")


if __name__ == "__main__":
    main()
