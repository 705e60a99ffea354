"""Signal plugins, found through the ``haechi.signals`` entry-point group.

Built-ins are registered through the same entry points as third-party plugins, so both
follow one path and one conformance test.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from haechi.errors import UnknownSignalError
from haechi.signals.base import Comparison, Signal, SignalExample, SignalValue

__all__ = ["Comparison", "Signal", "SignalExample", "SignalValue", "all_signals", "get_signal"]

ENTRY_POINT_GROUP = "haechi.signals"


@cache
def all_signals() -> dict[str, Signal]:
    """Every installed signal by name. Names are storage keys, so duplicates are fatal."""
    found: dict[str, Signal] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Signal)):
            raise TypeError(f"entry point {ep.name} is not a Signal subclass")
        if cls.name != ep.name:
            raise ValueError(f"entry point {ep.name!r} names signal {cls.name!r}")
        if cls.name in found:
            raise ValueError(f"two plugins claim the signal name {cls.name!r}")
        found[cls.name] = cls()
    if not found:
        # Running from a source tree that was never installed: fall back to built-ins.
        from haechi.signals.crypto import Md5Signal, Sha256Signal
        from haechi.signals.pdq import PdqSignal
        from haechi.signals.vpdq import VpdqSignal

        for builtin in (Sha256Signal, Md5Signal, PdqSignal, VpdqSignal):
            found[builtin.name] = builtin()
    return found


def get_signal(name: str) -> Signal:
    try:
        return all_signals()[name]
    except KeyError:
        raise UnknownSignalError(
            f"unknown signal {name!r}; known: {', '.join(sorted(all_signals()))}"
        ) from None
