"""Fusion jobs: one at a time per server process, a bounded queue, progress and cancel.

Each server process runs one worker thread that takes jobs from a FIFO queue, so two
requests never fuse at once (fusion is memory-heavy and uses every core already). A
job reports its stage (``queued``, ``aligning``, ``fusing``, ``scoring``) and, for the
tiled network passes of the learned methods, ``done``/``total`` tiles through
:func:`mefkit.progress.report_tiles`.

Cancelling is cooperative: a queued job is dropped at once; a running one stops at the
next tile of a tiled pass (the tile listener raises :class:`Cancelled`) or, for a method
without tiles, at the end of the current stage, whose result is then discarded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..api import fuse as fuse_bracket
from ..errors import MefkitError
from ..io import Bracket, quantize
from ..prepare import prepare_frames
from ..progress import report_tiles

log = logging.getLogger("mefkit.serve")

#: Job states; the last three are final.
STATES = ("queued", "running", "done", "failed", "cancelled")


class Cancelled(Exception):
    """Raised inside a running job when its cancel flag is seen."""


class Busy(MefkitError):
    """The queue is full: HTTP 503."""


@dataclass(eq=False)  # jobs are compared by identity (their arrays have no truth value)
class Job:
    """One fusion request and its outcome.

    Attributes
    ----------
    id : str
        Random hex id (the only handle a client has on it).
    method, params : str, dict
        The registered method and its typed parameters.
    bracket : Bracket
        Decoded frames, darkest first (dropped once the job ends).
    names : list of str
        File name of each frame, darkest first.
    align, deghost, border : str or None, str or None, str
        Preparation stages, as :func:`mefkit.prepare.prepare_frames` takes them.
    score : bool
        Compute MEF-SSIM of the result.
    state, stage : str
        One of :data:`STATES`; what runs now (``"fusing with mertens"``...).
    done, total : int or None
        Tiles finished and in all, for the tiled passes.
    error : str or None
        Why a failed job failed (the CLI's words).
    seconds : float or None
        Time of the fusion itself (without reading, alignment or scoring).
    mef_ssim : float or None
        MEF-SSIM of the result for its (prepared) bracket, in [0, 1].
    result : ndarray or None
        ``(H, W, 3)`` uint16 once done: the fused image rounded to 16 bits (half the
        memory of float32; an 8- or 16-bit file made from it matches one made from the
        float result up to one 8-bit level at exact rounding ties).
    internal : bool
        The failure was a bug (HTTP 500), not the user's input.
    previews : list of ndarray
        The frames the method received, ``(H, W, 3)`` uint8, for the page's comparisons.
    """

    method: str
    params: dict[str, Any]
    bracket: Bracket | None
    names: list[str]
    align: str | None = None
    deghost: str | None = None
    border: str = "fill"
    score: bool = True
    notes: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"
    stage: str = "queued"
    done: int | None = None
    total: int | None = None
    error: str | None = None
    seconds: float | None = None
    mef_ssim: float | None = None
    result: np.ndarray | None = None
    internal: bool = False
    previews: list[np.ndarray] = field(default_factory=list)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def final(self) -> bool:
        """Whether the job has ended (done, failed or cancelled)."""
        return self.state in ("done", "failed", "cancelled")

    def check_cancel(self) -> None:
        """Raise :class:`Cancelled` if a cancel was requested."""
        if self.cancel_requested.is_set():
            raise Cancelled()


class JobQueue:
    """A FIFO of fusion jobs served by one worker thread.

    Parameters
    ----------
    max_waiting : int
        Most jobs waiting (not counting the running one); one more is refused with
        :class:`Busy`.
    keep : int
        Finished jobs kept (for their results and previews); older ones are forgotten.
    """

    def __init__(self, max_waiting: int = 8, keep: int = 16) -> None:
        if max_waiting < 1 or keep < 1:
            raise ValueError(f"max_waiting and keep must be >= 1, got {max_waiting}, {keep}")
        self.max_waiting = max_waiting
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: list[Job] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="mefkit-fusion-worker", daemon=True)
        self._thread.start()

    # -- client side ---------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Queue ``job``; raise :class:`Busy` when ``max_waiting`` jobs already wait."""
        with self._lock:
            if len(self._waiting) >= self.max_waiting:
                raise Busy(f"server busy: {len(self._waiting)} fusions are waiting; try again later")
            self._waiting.append(job)
            self._jobs[job.id] = job
            self._forget_old()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None (unknown or forgotten)."""
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """How many jobs run or wait before ``job`` (0 when it runs or has ended)."""
        with self._lock:
            if job not in self._waiting:
                return 0
            return self._waiting.index(job) + (1 if self._running else 0)

    def cancel(self, job: Job) -> None:
        """Ask ``job`` to stop; a waiting job ends as ``cancelled`` at once."""
        job.cancel_requested.set()
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)
                self._end(job, "cancelled")

    def close(self) -> None:
        """Stop the worker after the running job (waiting jobs are cancelled)."""
        with self._lock:
            for job in self._waiting:
                job.cancel_requested.set()
                self._end(job, "cancelled")
            self._waiting.clear()
        self._queue.put(None)

    @property
    def alive(self) -> bool:
        """Whether the worker thread still runs."""
        return self._thread.is_alive()

    # -- worker side ---------------------------------------------------------------
    _running: Job | None = None

    def _forget_old(self) -> None:
        ended = [j for j in self._jobs.values() if j.final]
        for job in ended[: max(0, len(ended) - self.keep)]:
            del self._jobs[job.id]

    @staticmethod
    def _end(job: Job, state: str, error: str | None = None) -> None:
        job.state, job.stage, job.error = state, state, error
        job.bracket = None
        if state != "done":
            job.result = None
        job.finished.set()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                if job not in self._waiting:  # cancelled while waiting
                    continue
                self._waiting.remove(job)
                self._running = job
                job.state = "running"
            try:
                run_job(job)
                state, error = "done", None
            except Cancelled:
                state, error = "cancelled", None
            except MefkitError as exc:
                state, error = "failed", str(exc)
            except MemoryError:
                state, error = "failed", "out of memory; try a smaller bracket or a tiled method"
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any bug
                log.exception("fusion job %s failed", job.id)
                state, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
                job.internal = True
            with self._lock:
                self._running = None
                self._end(job, state, error)
                self._forget_old()


def run_job(job: Job) -> None:
    """Prepare, fuse and score ``job``'s bracket in this thread, filling its fields.

    Raises
    ------
    Cancelled
        When the job's cancel flag is set (checked after each tile and each stage).
    MefkitError
        The method's or the stages' errors.
    """
    assert job.bracket is not None
    bracket = job.bracket

    def on_tile(done: int, total: int) -> None:
        job.done, job.total = done, total
        job.check_cancel()

    with report_tiles(on_tile):
        job.check_cancel()
        frames = bracket.frames
        if job.align or job.deghost:
            job.stage = "aligning" if job.align else "deghosting"
            frames = prepare_frames(frames, align=job.align or False, deghost=job.deghost or False,
                                    border=job.border).frames
            job.check_cancel()
        job.stage, job.done, job.total = f"fusing with {job.method}", None, None
        start = time.perf_counter()
        fused = fuse_bracket(Bracket(list(frames), [None] * len(frames), bracket.bit_depth, bracket.order_by),
                             method=job.method, **job.params)
        job.seconds = time.perf_counter() - start
        job.check_cancel()
        if job.score:
            from ..metrics import mef_ssim

            job.stage, job.done, job.total = "scoring (MEF-SSIM)", None, None
            job.mef_ssim = float(mef_ssim(frames, fused))
            job.check_cancel()
    job.previews = [quantize(f, 8) for f in frames]
    job.result = quantize(fused, 16)


__all__ = ["Busy", "Cancelled", "Job", "JobQueue", "STATES", "run_job"]
