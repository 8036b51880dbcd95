"""Fuse many brackets: one after another, or in parallel on Dask distributed.

Every bracket is one call of :func:`run_job`, the same function in both cases, so a
parallel run writes the same pixels as a serial one. Dask distributed (Rocklin, "Dask:
Parallel computation with blocked algorithms and task scheduling", SciPy 2015) is used
because it is pure Python, runs the same code in a :class:`~distributed.LocalCluster` on
one machine and on a cluster of machines, and is an optional extra
(``pip install "mefkit[distributed]"``). On a cluster every worker must have mefkit
installed and see the frames and the output folder at the same paths (a shared file
system).
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..api import fuse as fuse_bracket
from ..errors import MefkitError
from ..io import FORMAT_BITS, read_bracket, write_image
from ..io.metadata import bracket_metadata
from ..io.raw import RawOptions
from ..prepare import prepare_frames

EXTRA_HINT = 'pip install "mefkit[distributed]"'


@dataclass(frozen=True)
class Job:
    """Everything one bracket's fusion needs; plain data, so it pickles to a Dask worker.

    Attributes
    ----------
    name : str
        The bracket's name (its output file's stem).
    sources : tuple of str
        Frame files, or one folder of frames, given to :func:`mefkit.io.read_bracket`.
    target : str
        Output file.
    method : str
        Fusion method; ``params`` its parameters as ``(key, value)`` pairs.
    bits : int or None
        Output bits (``None``: 16 for 16-bit input when the format allows, else 8).
    quality : int
        JPEG quality; ``force`` replaces an existing output.
    align, deghost, reference, border
        The preparation stages (:func:`mefkit.prepare.prepare_frames`).
    raw : RawOptions
        White balance and highlight handling of RAW frames (:mod:`mefkit.io.raw`).
    threads : int or None
        Threads for OpenCV (and torch, for a learned method) in the process that runs the
        job; ``None`` leaves the libraries' defaults. Local workers get cores / workers
        each, so that N workers do not each start a thread per core.
    """

    name: str
    sources: tuple[str, ...]
    target: str
    method: str = "mertens"
    params: tuple[tuple[str, object], ...] = ()
    bits: int | None = None
    quality: int = 95
    force: bool = False
    align: str | None = None
    deghost: str | None = None
    reference: int | None = None
    border: str = "fill"
    raw: RawOptions = RawOptions()
    threads: int | None = None


@dataclass
class Outcome:
    """What became of one :class:`Job`.

    Attributes
    ----------
    name : str
        The job's name.
    status : str
        ``"fused"`` or ``"failed"``.
    seconds : float
        Wall time of reading, preparing, fusing and writing.
    message : str
        Why it failed; empty when fused.
    frames : list of str
        The frame files read, darkest first (empty when reading failed).
    warnings : list of str
        Warnings raised while reading and fusing (e.g. a dropped alpha channel).
    details : list of str
        The preparation's per-frame report (``--verbose``).
    bits : int or None
        Bits of the written output.
    """

    name: str
    status: str
    seconds: float = 0.0
    message: str = ""
    frames: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    bits: int | None = None


def output_bits(bits: int | None, target: Path, input_bits: int) -> int:
    """``bits`` if given, else 16 when the input is 16-bit and the format holds it, else 8."""
    if bits is not None:
        return bits
    return 16 if input_bits == 16 and 16 in FORMAT_BITS.get(target.suffix.lower(), (8,)) else 8


def limit_threads(threads: int, method: str) -> None:
    """Use ``threads`` threads in OpenCV, and in torch when ``method`` is a learned method."""
    import cv2

    from ..registry import get_method

    cv2.setNumThreads(threads)
    try:
        learned = get_method(method).kind == "learned"
    except MefkitError:
        return  # an unknown method fails in run_job with its own message
    if learned:
        try:
            import torch
        except ImportError:
            return
        torch.set_num_threads(threads)


def run_job(job: Job) -> Outcome:
    """Read, prepare, fuse and write one bracket (with its metadata); never raises for a bad bracket.

    Parameters
    ----------
    job : Job

    Returns
    -------
    Outcome
        ``failed`` with a one-line message for a mefkit error (unreadable frame, sizes
        differ...), lack of memory, or any other exception (its type and message), so
        one bad bracket never stops a batch.
    """
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # errors are reported as messages
    if job.threads:
        limit_threads(job.threads, job.method)
    start = time.perf_counter()
    outcome = Outcome(job.name, "failed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            bracket = read_bracket(list(job.sources), raw=job.raw)
            outcome.frames = [str(p) for p in bracket.paths]
            if job.align or job.deghost:
                prep = prepare_frames(bracket.frames, align=job.align or False, deghost=job.deghost or False,
                                      reference=job.reference, border=job.border)
                bracket.frames = prep.frames
                outcome.details = list(prep.describe())
            fused = fuse_bracket(bracket, method=job.method, **dict(job.params))
            target = Path(job.target)
            outcome.bits = output_bits(job.bits, target, bracket.bit_depth)
            write_image(target, fused, bits=outcome.bits, quality=job.quality, force=job.force,
                        inputs=bracket.paths, method=job.method,
                        metadata=bracket_metadata(bracket, job.method, job.reference))
            outcome.status = "fused"
        except MefkitError as exc:
            outcome.message = str(exc)
        except MemoryError:
            outcome.message = "out of memory"
        except Exception as exc:  # noqa: BLE001 - a batch reports a bracket's crash and goes on
            outcome.message = f"{type(exc).__name__}: {exc}"
    outcome.warnings = list(dict.fromkeys(str(w.message) for w in caught))
    outcome.seconds = time.perf_counter() - start
    return outcome


def distributed_available() -> bool:
    """Whether Dask distributed can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def require_distributed(option: str) -> None:
    """Raise a one-line :class:`MefkitError` naming the extra when Dask distributed is missing."""
    if not distributed_available():
        raise MefkitError(f"{option} needs Dask distributed: {EXTRA_HINT}")


@contextmanager
def dask_client(workers: int, scheduler: str | None = None, processes: bool = True,
                threads: int = 1) -> Iterator[object]:
    """A Dask client: on ``scheduler`` if given, else on a new local cluster of ``workers`` workers.

    Parameters
    ----------
    workers : int
        Worker processes of the local cluster (one task thread each: a bracket is one task).
    scheduler : str or None
        Address of a running scheduler (``tcp://host:8786``): join that cluster instead.
    processes : bool
        Local workers as processes (the default, no shared interpreter lock) or threads.
    threads : int
        OpenMP / MKL / OpenBLAS threads of each local worker process. Dask's own default
        environment for worker processes also sets ``MALLOC_TRIM_THRESHOLD_``, which
        turns off glibc's adaptive mmap threshold: every large image array is then a
        fresh mapping, page-faulted and zeroed again, which costs a bracket of 6 MP
        frames far more system time than in a serial run. The workers here keep
        glibc's default, as the serial run does.

    Raises
    ------
    MefkitError
        When the scheduler cannot be reached.
    """
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise MefkitError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    environ = {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                               dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_jobs(jobs: Sequence[Job], on_done: Callable[[Outcome], None], client: object | None = None) -> list[Outcome]:
    """Run every job and call ``on_done`` with each outcome as it finishes.

    Parameters
    ----------
    jobs : sequence of Job
    on_done : callable
        Called in this process after each bracket (progress, manifest).
    client : distributed.Client or None
        Run on this Dask client in parallel; ``None`` runs the jobs here, in order.

    Returns
    -------
    list of Outcome
        In the order the jobs finished. A task lost on the cluster (a worker killed)
        becomes a ``failed`` outcome.
    """
    outcomes: list[Outcome] = []
    if client is None:
        for job in jobs:
            outcome = run_job(job)
            outcomes.append(outcome)
            on_done(outcome)
        return outcomes
    from distributed import as_completed

    futures = {client.submit(run_job, job, pure=False, key=f"mefkit-fuse-{i}-{job.name}"): job  # type: ignore[attr-defined]
               for i, job in enumerate(jobs)}
    try:
        for future in as_completed(futures):
            job = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker fails its bracket only
                outcome = Outcome(job.name, "failed", message=f"{type(exc).__name__}: {exc}")
            outcomes.append(outcome)
            on_done(outcome)
    finally:
        for future in futures:
            future.cancel()
    return outcomes


__all__ = ["EXTRA_HINT", "Job", "Outcome", "dask_client", "distributed_available", "limit_threads", "output_bits",
           "require_distributed",
           "run_job", "run_jobs"]
