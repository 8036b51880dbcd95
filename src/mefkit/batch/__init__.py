"""Batches of brackets: find them in a folder (:mod:`.grouping`), fuse them serially or on
Dask distributed (:mod:`.run`), and record what happened (:mod:`.manifest`).

``mefkit fuse-dir`` is the command-line face of this package.
"""

from .grouping import Group, GroupSpec, Grouping, group_flat, group_folder, parse_group
from .manifest import MANIFEST_NAME, Entry, Manifest, read_manifest
from .run import Job, Outcome, run_job, run_jobs

__all__ = ["Entry", "Group", "GroupSpec", "Grouping", "Job", "MANIFEST_NAME", "Manifest", "Outcome", "group_flat",
           "group_folder", "parse_group", "read_manifest", "run_job", "run_jobs"]
