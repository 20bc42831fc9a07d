"""Image data a microscopist has, made ready for the jrVAE: readers, patches, preprocessing.

Qt-free. The pieces, in the order the loader (``zbo_gui.core.datasets.load_dataset``) uses them:

- :func:`open_images`: a lazy :class:`RawImages` for an NPY/NPZ file, an HDF5 dataset, a TIFF
  stack, a PNG/JPEG image or a folder of images (only the images used are read);
  :func:`read_labels`: optional labels (NPY, CSV, or a dataset of the same HDF5 file).
- ``patches``: one large image cut into patches (a grid, or centred on blobs or peaks).
- ``preprocess``: colour to grey, value checks, normalisation, crop/pad/resize, subsets.
- :func:`inspect_file` / :class:`DataSummary`: what a file holds, with its problems.
- :func:`particle_images`: the synthetic particle-counting demo.

Unusable data raises :class:`~zbo_gui.core.errors.DatasetError` (one line naming the problem);
suspicious but usable data gives a :class:`DatasetWarning`.
"""

from zbo_gui.core.data.base import (
    CROP_MODES,
    FORMATS,
    NORMALIZE_MODES,
    PATCH_MODES,
    DatasetWarning,
    RawImages,
)
from zbo_gui.core.data.particles import particle_images
from zbo_gui.core.data.readers import detect_format, open_images, read_labels
from zbo_gui.core.data.summary import (
    DataSummary,
    image_candidates,
    inspect_file,
    summarize_images,
)

__all__ = [
    "CROP_MODES",
    "FORMATS",
    "NORMALIZE_MODES",
    "PATCH_MODES",
    "DataSummary",
    "DatasetWarning",
    "RawImages",
    "detect_format",
    "image_candidates",
    "inspect_file",
    "open_images",
    "particle_images",
    "read_labels",
    "summarize_images",
]
