"""Run fusion methods over a dataset and score every (scene, method) cell.

:func:`evaluate` is what ``mefkit eval`` calls. For each scene it reads the frames once,
fuses them with each method through :func:`mefkit.fuse` (timed), or reads a result made
elsewhere, then computes the reference metrics where the scene has a ground truth and
the no-reference metrics (MEF-SSIM) always, against the frames the method was given.
Each finished cell is stored at once (see :mod:`mefkit.evaluation.store`), so an
interrupted run resumes where it stopped; a stored cell is reused only while the method's
and the metrics' code is unchanged (see :mod:`mefkit.evaluation.provenance`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np

from ..api import fuse
from ..datasets.scene import Dataset, Scene
from ..errors import MefkitError
from ..io import Bracket, read_bracket, read_image, write_image
from ..registry import get_method
from .outputs import find_outputs, fit_to_inputs
from .provenance import code_hash
from .store import CellStore, file_stamp, fingerprint

#: Metrics computed when none are named: the seed paper's four, MEF-SSIM, then colour and
#: tone (CIE-Lab a*b* shift from the inputs, mean L*; L* of the ground truth and the
#: difference where there is one; see :mod:`mefkit.metrics.color_shift`).
DEFAULT_METRICS = ("psnr", "ssim", "ms_ssim", "vif", "mef_ssim", "color_shift", "l_mean", "gt_l", "dl_gt")
#: Longer side of the thumbnails kept in the report folder, in pixels.
THUMB_SIZE = 192

MetricFns = tuple[Mapping[str, Callable[..., float]], Mapping[str, Callable[..., float]]]


@dataclass(frozen=True)
class Job:
    """One cell to fill: a registered method, or an external result file."""

    scene: Scene
    method: str
    external: Path | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class EvalResult:
    """Cells of a run, in job order, and how many were reused, computed and failed."""

    cells: list[dict[str, Any]]
    reused: int = 0
    computed: int = 0
    failed: int = 0


def default_metric_fns() -> MetricFns:
    """``(REFERENCE_METRICS, NO_REFERENCE_METRICS)`` from :mod:`mefkit.metrics`."""
    from ..metrics import NO_REFERENCE_METRICS, REFERENCE_METRICS

    return REFERENCE_METRICS, NO_REFERENCE_METRICS


def check_metrics(metrics: Sequence[str], metric_fns: MetricFns) -> None:
    """Raise :class:`MefkitError` naming any unknown metric."""
    ref, noref = metric_fns
    unknown = [m for m in metrics if m not in ref and m not in noref]
    if unknown:
        known = ", ".join(sorted({*ref, *noref}))
        raise MefkitError(f"unknown metric {', '.join(map(repr, unknown))}; available: {known}")


def plan_jobs(
    dataset: Dataset,
    methods: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    outputs: Sequence[tuple[str, Path]] = (),
    published: str | None = None,
) -> list[Job]:
    """Every (scene, method) cell of a run, scene by scene.

    Parameters
    ----------
    dataset : Dataset
    methods : sequence of str
        Registered method names to run.
    params : dict of str to dict
        Parameters per method name, passed to :func:`mefkit.fuse`.
    outputs : sequence of (label, folder)
        Folders of results made elsewhere; a result of method ``M`` found there is the
        cell ``"<label>:M"``.
    published : str or None
        When given, the scenes' own ``fused/`` results are cells ``"<published>:M"``.
    """
    params = params or {}
    jobs: list[Job] = []
    for scene in dataset:
        for name in methods:
            jobs.append(Job(scene, name, None, dict(params.get(name, {}))))
        if published:
            for meth, path in sorted(scene.fused.items()):
                jobs.append(Job(scene, f"{published}:{meth}", path))
        for label, folder in outputs:
            for meth, path in sorted(find_outputs(folder, scene).items()):
                jobs.append(Job(scene, f"{label}:{meth}", path))
    # The same cell named twice (--published and the data folder as --outputs) runs once.
    unique: dict[tuple[str, str], Job] = {}
    for job in jobs:
        unique.setdefault((job.scene.name, job.method), job)
    return list(unique.values())


def common_scene_jobs(jobs: Sequence[Job]) -> tuple[list[Job], list[str]]:
    """The jobs of the scenes that every planned method has a cell on.

    A result made elsewhere exists only where its authors published one; dropping the
    other scenes before running saves fusing them for nothing (``--common-scenes``).

    Returns
    -------
    kept : list of Job
    dropped : list of str
        Names of the scenes left out, in plan order.
    """
    methods = set(j.method for j in jobs)
    per_scene: dict[str, set[str]] = {}
    for j in jobs:
        per_scene.setdefault(j.scene.name, set()).add(j.method)
    common = {name for name, have in per_scene.items() if have == methods}
    return [j for j in jobs if j.scene.name in common], [n for n in per_scene if n not in common]


def write_thumbnail(path: Path, image: np.ndarray, size: int = THUMB_SIZE) -> Path:
    """Write a JPEG of ``image`` shrunk to ``size`` pixels on its longer side (atomic)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        image = cv2.resize(image, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_image(path, image, quality=85, force=True)


class _SceneData:
    """Frames, ground truth and input thumbnails of one scene, read on first use."""

    def __init__(self, scene: Scene, store: CellStore):
        self.scene, self.store = scene, store
        self._bracket: Bracket | None = None
        self._gt: np.ndarray | None = None

    @property
    def bracket(self) -> Bracket:
        if self._bracket is None:
            self._bracket = read_bracket(list(self.scene.frames), order="given")
        return self._bracket

    @property
    def gt(self) -> np.ndarray | None:
        if self.scene.gt is None:
            return None
        if self._gt is None:
            gt, _, _ = read_image(self.scene.gt)
            if gt.shape[:2] != self.bracket.shape:
                h, w = self.bracket.shape
                raise MefkitError(
                    f"{self.scene.gt}: ground truth is {gt.shape[1]}x{gt.shape[0]}, inputs are {w}x{h}"
                )
            self._gt = gt
        return self._gt

    def write_input_thumbs(self) -> None:
        """Thumbnails of the inputs and the ground truth (skipped when present)."""
        scene = self.scene
        items = [(f"input_{i + 1}", i) for i in range(len(scene.frames))]
        if all(self.store.thumb_path(scene.name, n).is_file() for n, _ in items) and (
            scene.gt is None or self.store.thumb_path(scene.name, "gt").is_file()
        ):
            return
        for name, i in items:
            write_thumbnail(self.store.thumb_path(scene.name, name), self.bracket.frames[i])
        if self.gt is not None:
            write_thumbnail(self.store.thumb_path(scene.name, "gt"), self.gt)


def _score(
    fused: np.ndarray, data: _SceneData, metrics: Sequence[str], metric_fns: MetricFns
) -> tuple[dict[str, float | None], dict[str, str]]:
    ref_fns, noref_fns = metric_fns
    values: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for name in metrics:
        try:
            if name in noref_fns:
                values[name] = float(noref_fns[name](data.bracket.frames, fused))
            else:
                gt = data.gt
                values[name] = None if gt is None else float(ref_fns[name](fused, gt))
        except Exception as exc:  # noqa: BLE001 - one metric failing must not lose the cell
            values[name] = None
            errors[name] = f"{type(exc).__name__}: {exc}"
    return values, errors


def _method_code(job: Job) -> str | None:
    if job.external is not None:
        return None
    info = get_method(job.method)
    return code_hash(info.fn, include_weights=info.kind == "learned")


def _metrics_code(metrics: Sequence[str], metric_fns: MetricFns) -> str:
    ref, noref = metric_fns
    return fingerprint(**{m: code_hash(noref[m] if m in noref else ref[m]) for m in metrics})


def _job_fingerprint(job: Job, metrics_code: str) -> str:
    scene = job.scene
    return fingerprint(
        method=job.method,
        code=_method_code(job),
        metrics_code=metrics_code,
        params=dict(job.params),
        frames=[file_stamp(p) for p in scene.frames],
        gt=file_stamp(scene.gt),
        external=file_stamp(job.external),
    )


def _run_job(job: Job, data: _SceneData, store: CellStore, metrics: Sequence[str],
             metric_fns: MetricFns, save_fused: bool, fp: str) -> dict[str, Any]:
    scene = job.scene
    cell: dict[str, Any] = {
        "scene": scene.name,
        "method": job.method,
        "source": "external" if job.external else "mefkit",
        "params": dict(job.params),
        "fingerprint": fp,
        "n_frames": len(scene.frames),
        "has_gt": scene.gt is not None,
        "status": "ok",
        "error": "",
        "metrics": {},
        "metric_errors": {},
        "seconds": None,
        "s_per_mp": None,
        "resized_from": None,
        "thumb": None,
    }
    try:
        h, w = data.bracket.shape
        cell["width"], cell["height"] = w, h
        if job.external is not None:
            image, _, _ = read_image(job.external)
            fused, resized = fit_to_inputs(image, (h, w))
            cell["resized_from"] = list(resized) if resized else None
            cell["file"] = str(job.external)
        else:
            bracket = Bracket(list(data.bracket.frames), list(data.bracket.paths), data.bracket.bit_depth, "given")
            start = time.perf_counter()
            fused = fuse(bracket, job.method, order="given", **job.params)
            cell["seconds"] = time.perf_counter() - start
            cell["s_per_mp"] = cell["seconds"] / (h * w / 1e6)
        cell["metrics"], cell["metric_errors"] = _score(fused, data, metrics, metric_fns)
        data.write_input_thumbs()
        thumb = store.thumb_path(scene.name, job.method)
        write_thumbnail(thumb, fused)
        cell["thumb"] = thumb.relative_to(store.root).as_posix()
        if save_fused:
            full = store.fused_path(scene.name, job.method)
            full.parent.mkdir(parents=True, exist_ok=True)
            write_image(full, fused, force=True, method=job.method)
            cell["fused_file"] = full.relative_to(store.root).as_posix()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - a failing cell is reported, the run goes on
        cell["status"] = "failed"
        cell["error"] = str(exc) if isinstance(exc, MefkitError) else f"{type(exc).__name__}: {exc}"
    return cell


def evaluate(
    dataset: Dataset,
    report_dir: str | Path,
    methods: Sequence[str] = ("mertens",),
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    outputs: Sequence[tuple[str, Path]] = (),
    published: str | None = None,
    save_fused: bool = False,
    fresh: bool = False,
    metric_fns: MetricFns | None = None,
    on_cell: Callable[[Job, dict[str, Any], bool], None] | None = None,
    jobs: Sequence[Job] | None = None,
) -> EvalResult:
    """Fuse and score every (scene, method) cell, reusing finished cells.

    Parameters
    ----------
    dataset : Dataset
        From :func:`mefkit.datasets.load_dataset`.
    report_dir : str or Path
        Folder for the cells, thumbnails and (optionally) full fused images.
    methods : sequence of str
        Registered fusion methods to run.
    params : dict of str to dict
        Method parameters, ``{"mertens": {"levels": 8}}``.
    metrics : sequence of str
        Metric names from :mod:`mefkit.metrics`; reference metrics are left empty
        (``None``) for scenes without ground truth.
    outputs, published
        Results made elsewhere (see :func:`plan_jobs`).
    save_fused : bool
        Also keep each fused image at full size as 8-bit PNG.
    fresh : bool
        Recompute every cell even when a stored one matches.
    metric_fns : (dict, dict), optional
        ``(reference, no_reference)`` metric functions; :mod:`mefkit.metrics` by default.
    on_cell : callable, optional
        Called as ``on_cell(job, cell, reused)`` after each cell (progress display).
    jobs : sequence of Job, optional
        A plan from :func:`plan_jobs` (made here when omitted).

    Returns
    -------
    EvalResult
    """
    metric_fns = metric_fns or default_metric_fns()
    check_metrics(metrics, metric_fns)
    store = CellStore(report_dir)
    store.root.mkdir(parents=True, exist_ok=True)
    if jobs is None:
        jobs = plan_jobs(dataset, methods, params, outputs, published)
    result = EvalResult([])
    metrics_code = _metrics_code(metrics, metric_fns)
    scene_data: dict[str, _SceneData] = {}
    for job in jobs:
        name = job.scene.name
        if name not in scene_data:
            scene_data.clear()  # jobs come scene by scene: keep one scene's frames in memory
            scene_data[name] = _SceneData(job.scene, store)
        fp = _job_fingerprint(job, metrics_code)
        cell = None if fresh else store.reusable(name, job.method, fp, metrics)
        reused = cell is not None
        if cell is None:
            cell = _run_job(job, scene_data[name], store, metrics, metric_fns, save_fused, fp)
            store.save(cell)
            result.computed += 1
        else:
            result.reused += 1
        if cell["status"] != "ok":
            result.failed += 1
        result.cells.append(cell)
        if on_cell is not None:
            on_cell(job, cell, reused)
    return result
