"""Time a call and its peak memory above the process's resting size, for the bench workers.

The speed benches run each method in a fresh subprocess (a worker script) so that one
method's allocator pools do not count against the next. This is the measuring half of
those workers: ``ru_maxrss`` is updated lazily by the kernel and never goes down, so the
resident size is sampled in a thread instead (numpy, OpenCV and torch release the GIL
while they work). Linux only (``/proc/self/statm``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

import numpy as np

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """The process's resident set size in bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def time_and_peak(run: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median time of ``repeats`` calls of ``run`` after one warm-up, and the peak memory.

    Returns
    -------
    dict
        ``time``: median seconds per call; ``peak_mib``: peak resident size during the
        timed calls minus the size after the warm-up, in MiB.
    """
    run()  # warm-up (lazy imports, allocator pools)
    base = rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
        del out
    stop.set()
    thread.join()
    return {"time": float(np.median(times)), "peak_mib": (peak[0] - base) / 2**20}
