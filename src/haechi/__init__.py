"""Haechi: stop deepfake sexual abuse from spreading.

The public surface is small: build an :class:`Engine` and call its methods; every
transport (CLI, HTTP API) does exactly that.
"""

from haechi.errors import HaechiError
from haechi.version import __version__

__all__ = ["Engine", "HaechiError", "__version__"]


def __getattr__(name: str) -> object:
    # The engine pulls in SQLAlchemy, FAISS and PyAV; keep `import haechi` cheap for
    # tools that only need the signals.
    if name == "Engine":
        from haechi.engine import Engine

        return Engine
    raise AttributeError(name)
