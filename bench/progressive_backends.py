"""Per-network forward time of the progressive networks under several CPU runtimes.

Times phase 1 (UNet) and phase 2 (AMNet) on the tile the 12 MP default path runs
(working size 1155x866 padded to 1168x880, two tiles of 880x608 plus 32 px context,
so 880x640), interleaving the candidates so that each sees the same machine load.
Prints the median of ``--repeat`` runs per candidate and its PSNR against today's
float32 torch output.

Usage::

    python bench/progressive_backends.py [--repeat 3] [--threads 2] [--shape 880x640] [--only a,b]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import numpy as np
import torch


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", default="880x640", help="tile HxW")
    ap.add_argument("--only", default="", help="comma-separated candidate names")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from mefkit.methods.progressive import WEIGHTS, load_weights

    model = load_weights(WEIGHTS.path)
    unet, amnet = model.unet, model.amnet
    th, tw = (int(v) for v in args.shape.split("x"))
    import cv2

    import mefkit

    ims = [mefkit.read_image(p)[0] for p in mefkit.example_bracket()]
    u_np, o_np = (np.clip(cv2.resize(im, (tw, th), interpolation=cv2.INTER_AREA), 0, 1) for im in (ims[0], ims[-1]))
    u = torch.from_numpy(u_np.transpose(2, 0, 1).copy())[None]
    o = torch.from_numpy(o_np.transpose(2, 0, 1).copy())[None]
    cl = lambda t: t.contiguous(memory_format=torch.channels_last)  # noqa: E731
    with torch.inference_mode():
        ref_i = unet(cl(u), cl(o))
        ref_f = amnet(cl(u), ref_i, cl(o))
    ref_i_np, ref_f_np = ref_i.numpy(), ref_f.numpy()

    cands = {}

    def torch_eager(fmt, mode, dtype=None):
        def make():
            def p1(a, b):
                with mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                    return unet(fmt(a), fmt(b)).float()

            def p2(a, i, b):
                with mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                    return amnet(fmt(a), fmt(i), fmt(b)).float()

            return p1, p2

        return make

    cands["torch_cl_nograd"] = torch_eager(cl, torch.no_grad)
    cands["torch_cl_inference"] = torch_eager(cl, torch.inference_mode)
    cands["torch_nchw"] = torch_eager(lambda t: t.contiguous(), torch.inference_mode)
    cands["torch_cl_bf16"] = torch_eager(cl, torch.inference_mode, torch.bfloat16)

    def jit_freeze():
        with torch.no_grad():
            ju = torch.jit.freeze(torch.jit.trace(unet, (cl(u), cl(o))).eval())
            ju = torch.jit.optimize_for_inference(ju)
            ja = torch.jit.freeze(torch.jit.trace(amnet, (cl(u), ref_i, cl(o))).eval())
            ja = torch.jit.optimize_for_inference(ja)

        def p1(a, b):
            with torch.no_grad():
                return ju(cl(a), cl(b))

        def p2(a, i, b):
            with torch.no_grad():
                return ja(cl(a), cl(i), cl(b))

        return p1, p2

    cands["torch_jit_freeze"] = jit_freeze

    def with_threads(make, n):
        def limited(fn):
            def call(*a):
                old = torch.get_num_threads()
                torch.set_num_threads(n)
                try:
                    return fn(*a)
                finally:
                    torch.set_num_threads(old)

            return call

        def wrapped():
            return tuple(limited(p) for p in make())

        return wrapped

    cands["torch_cl_inference_1thread"] = with_threads(torch_eager(cl, torch.inference_mode), 1)

    def ort(level="all", threads=args.threads, dynamic=False, spin=True):
        def make():
            import onnxruntime as rt

            def export(net, ins, names):
                f = io.BytesIO()
                dyn = {n: {2: "h", 3: "w"} for n in names + ["out"]} if dynamic else None
                net_c = net  # export from NCHW weights: ORT picks its own layout
                torch.onnx.export(net_c, tuple(x.contiguous() for x in ins), f, dynamo=False, opset_version=17,
                                  input_names=names, output_names=["out"], dynamic_axes=dyn)
                so = rt.SessionOptions()
                so.graph_optimization_level = {"all": rt.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                               "ext": rt.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]
                so.intra_op_num_threads = threads
                so.inter_op_num_threads = 1
                if not spin:
                    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                return rt.InferenceSession(f.getvalue(), so, providers=["CPUExecutionProvider"])

            t0 = time.perf_counter()
            su = export(unet, (u, o), ["under", "over"])
            sa = export(amnet, (u, ref_i, o), ["under", "inter", "over"])
            print(f"  ort export+session ({level}, dynamic={dynamic}, threads={threads}, spin={spin}): "
                  f"{time.perf_counter() - t0:.2f} s")

            def p1(a, b):
                return torch.from_numpy(su.run(None, {"under": a.contiguous().numpy(), "over": b.contiguous().numpy()})[0])

            def p2(a, i, b):
                return torch.from_numpy(sa.run(None, {"under": a.contiguous().numpy(), "inter": i.contiguous().numpy(),
                                                       "over": b.contiguous().numpy()})[0])

            return p1, p2

        return make

    cands["ort_all"] = ort("all")
    cands["ort_ext"] = ort("ext")
    cands["ort_all_dynamic"] = ort("all", dynamic=True)
    cands["ort_dynamic_1thread"] = ort("all", dynamic=True, threads=1)
    cands["ort_dynamic_nospin"] = ort("all", dynamic=True, spin=False)
    if args.only:
        cands = {k: v for k, v in cands.items() if k in args.only.split(",")}
    built = {}
    for name, make in cands.items():
        built[name] = make()
    times = {n: ([], []) for n in built}
    quality = {}
    for r in range(args.repeat + 1):  # the first round warms up and is not counted
        for name, (p1, p2) in built.items():
            t0 = time.perf_counter()
            i = p1(u, o)
            t1 = time.perf_counter()
            f = p2(u, i, o)
            t2 = time.perf_counter()
            if r:
                times[name][0].append(t1 - t0)
                times[name][1].append(t2 - t1)
            else:
                quality[name] = (psnr(i.float().numpy(), ref_i_np), psnr(f.float().numpy(), ref_f_np))
    base = statistics.median(times["torch_cl_nograd"][0]) + statistics.median(times["torch_cl_nograd"][1]) \
        if "torch_cl_nograd" in times else None
    print(f"tile {th}x{tw}, threads {args.threads}, load {os.getloadavg()}")
    print(f"{'candidate':22s} {'UNet s':>8s} {'AMNet s':>8s} {'both s':>8s} {'speed-up':>8s} {'PSNR p1':>8s} {'PSNR p2':>8s}")
    for name, (a, b) in times.items():
        ma, mb = statistics.median(a), statistics.median(b)
        sp = f"{base / (ma + mb):8.2f}" if base else ""
        print(f"{name:22s} {ma:8.3f} {mb:8.3f} {ma + mb:8.3f} {sp} {quality[name][0]:8.1f} {quality[name][1]:8.1f}")


if __name__ == "__main__":
    main()
