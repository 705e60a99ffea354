"""Conversion between PDQ hex strings and packed 32-byte rows.

A PDQ hash is 256 bits, written as 64 hexadecimal characters. Packed, it is 32 bytes in
the order the hex string spells them (the first two characters are byte 0), which is
the layout python-threatexchange and FAISS use, so packed rows are interchangeable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

HASH_BYTES = 32
HASH_HEX_CHARS = 2 * HASH_BYTES
HASH_BITS = 8 * HASH_BYTES

__all__ = [
    "HASH_BITS",
    "HASH_BYTES",
    "HASH_HEX_CHARS",
    "bits_to_hex",
    "hex_to_bits",
    "hex_to_row",
]


def _describe_bad_hex(value: object) -> str | None:
    """Why ``value`` is not a PDQ hex string, or None when it is one."""
    if not isinstance(value, str):
        return f"expected str, got {type(value).__name__}"
    if len(value) != HASH_HEX_CHARS:
        return f"expected {HASH_HEX_CHARS} hex characters, got {len(value)}"
    if not value.isascii():
        return "contains non-ASCII characters"
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return "contains non-hex characters"
    if len(raw) != HASH_BYTES:  # bytes.fromhex skips whitespace between byte pairs
        return "contains whitespace"
    return None


def hex_to_row(hash_hex: str) -> npt.NDArray[np.uint8]:
    """One hex string to a ``(32,)`` uint8 row. Raises ValueError when malformed."""
    problem = _describe_bad_hex(hash_hex)
    if problem is not None:
        raise ValueError(f"malformed PDQ hash {hash_hex!r:.80}: {problem}")
    return np.frombuffer(bytes.fromhex(hash_hex), dtype=np.uint8).copy()


def hex_to_bits(hexes: str | Iterable[str] | npt.NDArray[np.str_]) -> npt.NDArray[np.uint8]:
    """Hex strings to a C-contiguous ``(N, 32)`` uint8 array.

    A single string gives a ``(1, 32)`` array. Raises ValueError naming the first
    malformed item (wrong length, non-hex or non-ASCII characters, whitespace).
    """
    if isinstance(hexes, str):
        return hex_to_row(hexes).reshape(1, HASH_BYTES)
    items: Sequence[str]
    if isinstance(hexes, np.ndarray):
        items = hexes.reshape(-1).tolist()
    elif isinstance(hexes, Sequence):
        items = hexes
    else:
        items = list(hexes)
    n = len(items)
    if n == 0:
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    # Fast path: one join and one decode. Per-item lengths must be checked first, or a
    # 63-character item followed by a 65-character one would decode without error.
    raw: bytes | None = None
    try:
        if set(map(len, items)) == {HASH_HEX_CHARS}:
            joined = "".join(items)
            if joined.isascii():
                raw = bytes.fromhex(joined)
    except (TypeError, ValueError):
        raw = None
    if raw is not None and len(raw) == n * HASH_BYTES:
        return np.frombuffer(raw, dtype=np.uint8).reshape(n, HASH_BYTES).copy()
    for i, item in enumerate(items):
        problem = _describe_bad_hex(item)
        if problem is not None:
            raise ValueError(f"malformed PDQ hash at position {i} ({item!r:.80}): {problem}")
    raise ValueError("malformed PDQ hashes")  # pragma: no cover - the loop names the item


def bits_to_hex(bits: npt.NDArray[np.uint8]) -> list[str]:
    """A ``(N, 32)`` (or ``(32,)``) uint8 array to N lowercase hex strings."""
    arr = np.asarray(bits)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 rows, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != HASH_BYTES:
        raise ValueError(f"expected shape (N, {HASH_BYTES}), got {arr.shape}")
    text = np.ascontiguousarray(arr).tobytes().hex()
    step = HASH_HEX_CHARS
    return [text[i : i + step] for i in range(0, len(text), step)]
