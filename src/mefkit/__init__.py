"""mefkit: multi-exposure image fusion.

``mefkit.fuse(frames, method="mertens")`` fuses a bracket with any registered method;
``mefkit.available_methods()`` lists them.
"""

from .api import fuse, load_frames
from .errors import BracketError, MefkitError, MethodError, OutputError, ParameterError
from .io import Bracket, OutputMetadata, RawOptions, bracket_metadata, read_bracket, read_image, write_image
from .registry import available_methods, get_method, register_method
from .example import example_bracket

__version__ = "0.1.0"

__all__ = [
    "Bracket",
    "BracketError",
    "MefkitError",
    "MethodError",
    "ParameterError",
    "OutputError",
    "OutputMetadata",
    "RawOptions",
    "available_methods",
    "bracket_metadata",
    "example_bracket",
    "fuse",
    "get_method",
    "load_frames",
    "read_bracket",
    "read_image",
    "register_method",
    "write_image",
    "__version__",
]
