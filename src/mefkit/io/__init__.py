"""Bracket input and fused-image output.

Images at the API are ``(H, W, 3)`` float32 RGB in [0, 1]; conversion happens once,
here, at the boundary.
"""

from .convert import as_float_rgb, luminance
from .order import exposure_value, order_frames
from .metadata import OutputMetadata, bracket_metadata, read_frame_metadata
from .raw import RAW_EXTENSIONS, RawOptions, is_raw
from .read import FRAME_EXTENSIONS, IMAGE_EXTENSIONS, Bracket, check_frames, list_images, read_bracket, read_image
from .provenance import is_mefkit_output, read_software
from .write import FORMAT_BITS, check_folder_writable, check_output, default_file_mode, quantize, write_image

__all__ = [
    "Bracket",
    "FORMAT_BITS",
    "FRAME_EXTENSIONS",
    "OutputMetadata",
    "RAW_EXTENSIONS",
    "RawOptions",
    "bracket_metadata",
    "is_raw",
    "read_frame_metadata",
    "IMAGE_EXTENSIONS",
    "as_float_rgb",
    "check_folder_writable",
    "check_frames",
    "check_output",
    "default_file_mode",
    "is_mefkit_output",
    "read_software",
    "exposure_value",
    "list_images",
    "luminance",
    "order_frames",
    "quantize",
    "read_bracket",
    "read_image",
    "write_image",
]
