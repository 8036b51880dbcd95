"""Run the tests against each altered weights file: which tests catch which breakage?

For every mutation of :mod:`mutate_weights` (and first for the unaltered package, as
the control), this copies ``src/`` to a temporary folder, replaces that method's
shipped weights file there with the altered one, runs pytest with the copy first on
``PYTHONPATH`` (the real files are never touched), and prints a table:
mutation -> failing tests, the sha256 pin tests listed apart (a pin always catches an
altered file; the point is which *other* tests do). Tests that already fail with the
shipped files (the control run) are reported and left out of every row. It exits 1
when a mutation fails no test besides the sha256 pins.

Usage::

    PYTHONPATH=src python scripts/mutation_run.py            # the learned-method tests
    PYTHONPATH=src python scripts/mutation_run.py --all      # the whole suite (slow)
    PYTHONPATH=src python scripts/mutation_run.py --only cbm_noise20 --tests tests/test_x.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from mutate_weights import MUTATIONS, write_mutation  # noqa: E402
from tests.shipped import SHIPPED_FILES  # noqa: E402

#: Test files run by default: every test module whose name mentions a learned method,
#: the shipped weights or the method contract (found anywhere under tests/, so the
#: selection survives tests moving into sub-folders).
DEFAULT_PATTERNS = ("progressive", "cbm", "mitm", "learned", "shipped", "contract")
#: Tests whose name contains this are the sha256 pins, listed apart.
PIN_MARK = "sha256"


def default_tests() -> list[str]:
    files = sorted(
        p for p in (ROOT / "tests").rglob("test_*.py") if any(k in p.name for k in DEFAULT_PATTERNS)
    )
    return [str(p.relative_to(ROOT)) for p in files]


def copy_package(dest: Path) -> Path:
    """Copy ``src/`` to ``dest/src`` (no caches); return the copy's ``mefkit`` folder."""
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest / "src" / "mefkit"


def run_pytest(src: Path, tests: list[str], report: Path, extra: list[str]) -> tuple[list[str], int, float]:
    """Run pytest on ``tests`` with ``src`` first on the path; failing test ids, count, seconds."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *extra, *tests]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - start
    failed, total = [], 0
    for case in ET.parse(report).iter("testcase"):
        total += 1
        if case.find("failure") is not None or case.find("error") is not None:
            module = case.get("classname", "").rsplit(".", 1)[-1]
            failed.append(f"{module}::{case.get('name')}")
    return failed, total, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(MUTATIONS), help="run only these mutations")
    parser.add_argument("--tests", nargs="+", help="test files or ids (default: the learned-method tests)")
    parser.add_argument("--all", action="store_true", help="run the whole suite for each mutation")
    parser.add_argument("--keep", type=Path, help="also keep the altered weights files in this folder")
    args = parser.parse_args(argv)
    tests = ["tests"] if args.all else (args.tests or default_tests())
    print("tests:", " ".join(tests), flush=True)
    names = args.only or list(MUTATIONS)
    rows, ok, control = [], True, set()
    with tempfile.TemporaryDirectory(prefix="mefkit-mutation-") as tmp:
        tmp = Path(tmp)
        files = tmp / "weights"
        files.mkdir()
        # All altered files first, from the tree as it is now, before any test runs.
        altered = {name: write_mutation(name, files) for name in names}
        for name in ["(none: shipped files)", *names]:
            work = tmp / "run"
            shutil.rmtree(work, ignore_errors=True)
            package = copy_package(work)
            if name in MUTATIONS:
                method = MUTATIONS[name][0]
                shutil.copyfile(altered[name], package / SHIPPED_FILES[method][0])
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(altered[name], args.keep / altered[name].name)
            failed, total, seconds = run_pytest(work / "src", tests, tmp / "report.xml", [])
            if name not in MUTATIONS:
                # Tests that fail with the shipped files say nothing about a mutation.
                control = set(failed)
                for test in failed:
                    print(f"WARNING: fails with the shipped files too, left out below: {test}", flush=True)
            pins = [t for t in failed if PIN_MARK in t and t not in control]
            others = [t for t in failed if PIN_MARK not in t and t not in control]
            if name in MUTATIONS:
                ok &= bool(others)
            rows.append((name, total, seconds, pins, others))
            print(f"{name}: {len(others)} failing (+{len(pins)} sha256 pins) of {total} in {seconds:.0f} s", flush=True)
    print()
    print("| mutation | tests run | failing tests (not counting sha256 pins) | sha256 pins failing |")
    print("|---|---|---|---|")
    for name, total, _, pins, others in rows:
        listed = "<br>".join(others) if others else "**none**"
        if name not in MUTATIONS and control:
            listed = f"{len(control)} already failing, left out of every row: " + "<br>".join(sorted(control))
        print(f"| {name} | {total} | {len(others)}: {listed} | {len(pins)} |")
    print()
    if control:
        print(f"{len(control)} test(s) failed with the shipped files as well and are left out (WARNING lines above)")
    print("every mutation caught by a test other than the sha256 pins:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
