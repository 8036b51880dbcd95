"""Dataset readers: turn a folder of exposure brackets into :class:`Scene` records.

``load_dataset(path, layout="auto", pairs="under-over")`` reads the generic layout
(one folder per scene), the layouts of ``../shared/data`` (MEFB, SICE pairs, Ma's MEF
database) and the official SICE release, with the frames given to a method chosen
explicitly by ``pairs``.
"""

from .load import LAYOUTS, load_dataset
from .pairs import parse_pairs, select_frames
from .scene import Dataset, DatasetError, Scene

__all__ = ["LAYOUTS", "Dataset", "DatasetError", "Scene", "load_dataset", "parse_pairs", "select_frames"]
