"""Exact in-memory PDQ near-duplicate index (multi-index hashing).

How it finds every match
------------------------
A PDQ hash is 256 bits. The index cuts it into 16 chunks of 16 bits. If two hashes are
within Hamming distance ``t``, at least one chunk differs in at most ``t // 16`` bits
(pigeonhole: 16 chunks each differing in ``t // 16 + 1`` bits or more would add up to
more than ``t``). A query therefore looks, for every chunk, in every bucket whose value
is within ``t // 16`` bit flips of the query's chunk value (17 buckets per chunk at the
default ``t = 31``), and verifies each candidate with an exact popcount distance. No
approximation is involved: the result equals a brute-force scan. Thresholds of 64 and
above, and queries whose buckets would hold a large share of the index, are answered by
a vectorised brute-force scan instead, which is exact as well.

Layout
------
Sealed part (``S`` rows, rebuilt by :meth:`PdqIndex.compact`), rows sorted by key:

==========================  =====================  =========================
array                       shape, dtype           bytes per row
==========================  =====================  =========================
codes                       (S, 32) uint8          32
keys                        (S,) int64             8
tombstones                  (S,) bool              1
chunk_offsets               (16, 65537) uint32     4.2 MB in all
chunk_ids_lo                (16, S) uint16         32
chunk_ids_hi                (16, S) uint8          16 (uint16, 32, above 2**24)
==========================  =====================  =========================

For chunk ``c``, the rows whose chunk value is ``v`` are
``ids[c, offsets[c, v]:offsets[c, v + 1]]`` (CSR), where a row id is
``ids_lo | ids_hi << 16``. Splitting ids into a 16-bit and an 8-bit part keeps them at
3 bytes (48 bytes per row for 16 chunks instead of 64 with uint32), which is what
brings the index under 96 bytes per hash: 89 bytes per row plus 4.2 MB (89.4 bytes per
hash at 10M rows, about 93 at 1M).

Delta part: rows added since the last compaction live in growable arrays (codes, keys,
tombstones; 41 bytes per row of capacity) and are scanned brute-force, so :meth:`add`
makes them matchable at once. When the delta reaches ``delta_limit`` rows (65,536 by
default) it is merged into the sealed part. Compaction builds the new sealed arrays
before dropping the old ones, so it briefly needs about twice the sealed memory.

Keys and removal: because sealed rows are sorted by key, the key-to-rows mapping for
:meth:`remove_keys` is a binary search on ``keys`` and costs no extra memory; the delta
is scanned. Removal sets tombstones and is visible at once; removed rows keep their
memory until :meth:`compact` (explicit, or triggered by the delta filling up) drops
them.

Concurrency: queries only read, so several threads may query at once. :meth:`add`,
:meth:`remove_keys` and :meth:`compact` modify the index in place and must not run
concurrently with queries or with each other; the caller holds the lock.

Persistence: :meth:`save` writes ``.npy`` files (never pickle) plus ``meta.json``, with
a shape, dtype and CRC32 per array, into a temporary directory next to the target,
fsyncs them and the directory, then renames it into place. Replacing an existing index
takes two renames (old out of the way, new in); a crash between them leaves the new
index in place only under its temporary name and the old one under
``.<name>.old-<random>`` next to it, and :meth:`load` of the target raises
FileNotFoundError rather than reading a half-written index.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from haechi.index.bits import HASH_BYTES, hex_to_bits, hex_to_row

__all__ = ["DEFAULT_THRESHOLD", "FORMAT_NAME", "FORMAT_VERSION", "PdqIndex"]

FORMAT_NAME = "haechi-pdq-mih"
FORMAT_VERSION = 1
DEFAULT_THRESHOLD = 31
MAX_THRESHOLD = 255

NCHUNKS = 16
CHUNK_BITS = 16
NBUCKETS = 1 << CHUNK_BITS
WORDS = HASH_BYTES // 8
MAX_ROWS = (1 << 32) - 1
# Rows up to this count need only 8 high bits per id (ids fit in 24 bits).
_HI8_LIMIT = 1 << 24
# Probing flips at most this many bits per chunk (697 buckets per chunk at 3 flips);
# larger thresholds use the brute-force scan.
_MAX_NFLIP = 3
# Probe only while the candidates stay under this share of the sealed rows; gathering
# a candidate costs several times more than scanning a row sequentially.
_BRUTE_SHARE = 4
# Candidates per batch in query_many, and (query, row) pairs per brute-force block.
_BATCH_CANDIDATES = 1 << 17
_SCAN_PAIRS = 1 << 18
_MIN_DELTA_CAPACITY = 1024

_ARRAY_FILES = (
    "codes",
    "keys",
    "tombstones",
    "chunk_offsets",
    "chunk_ids_lo",
    "chunk_ids_hi",
    "delta_codes",
    "delta_keys",
    "delta_tombstones",
)

U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Intp = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]
Dist = npt.NDArray[np.uint32]
Match = tuple[int, int]

_MASKS: dict[int, U16] = {}


def _probe_masks(nflip: int) -> U16:
    """All 16-bit masks with at most ``nflip`` bits set, fewest bits first."""
    masks = _MASKS.get(nflip)
    if masks is None:
        values = np.arange(NBUCKETS, dtype=np.uint16)
        counts = np.bitwise_count(values)
        order = np.argsort(counts, kind="stable")
        masks = values[order][counts[order] <= nflip]
        _MASKS[nflip] = masks
    return masks


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer):
        raise TypeError(f"threshold must be an int, got {type(threshold).__name__}")
    value = int(threshold)
    if not 0 <= value <= MAX_THRESHOLD:
        raise ValueError(f"threshold must be between 0 and {MAX_THRESHOLD}, got {value}")
    return value


def _as_rows(hashes: Sequence[str] | npt.NDArray[Any]) -> U8:
    """Hex strings or an ``(N, 32)`` uint8 array to a C-contiguous ``(N, 32)`` uint8."""
    if isinstance(hashes, str):
        raise TypeError("expected a sequence of hashes, got a single str")
    if isinstance(hashes, np.ndarray) and hashes.dtype.kind not in "US":
        if hashes.dtype != np.uint8 or hashes.ndim != 2 or hashes.shape[1] != HASH_BYTES:
            raise ValueError(
                f"hash arrays must be (N, {HASH_BYTES}) uint8, got {hashes.shape} {hashes.dtype}"
            )
        return np.ascontiguousarray(hashes)
    if isinstance(hashes, np.ndarray) and hashes.dtype.kind == "S":
        raise TypeError("hash arrays of bytes are not accepted; pass str or uint8 rows")
    return hex_to_bits(hashes)


def _as_keys(keys: Sequence[int] | npt.NDArray[Any], count: int) -> I64:
    arr = np.asarray(keys)
    if arr.ndim != 1:
        raise ValueError(f"keys must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != count:
        raise ValueError(f"got {count} hashes but {arr.shape[0]} keys")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "O":
        try:
            arr = np.array([_as_key(k) for k in arr.tolist()], dtype=np.int64)
        except OverflowError as exc:
            raise ValueError("keys must fit in int64") from exc
    if arr.dtype.kind not in "iu":
        raise TypeError(f"keys must be integers, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError("keys must fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _as_key(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"keys must be integers, got {type(value).__name__}")
    return int(value)


def _row_distances(rows: U64, query: U64) -> Dist:
    """Hamming distances between ``rows`` (..., 4) and ``query`` (broadcast)."""
    # Per-word popcounts are 4 bytes (each <= 64) of a little uint32; multiplying by
    # 0x01010101 adds them into the top byte. Only a distance of 256 (every byte 64)
    # overflows the byte, and it is the one value whose four counts read 0x40404040.
    counts = np.bitwise_count(rows ^ query).view(np.uint32)[..., 0]
    dist: Dist = (counts * np.uint32(0x01010101)) >> np.uint32(24)
    dist[counts == 0x40404040] = 256
    return dist


def _scan(rows: U64, queries: U64, threshold: int) -> tuple[Intp, Intp, Dist]:
    """Brute force: every (query, row) pair within ``threshold``, as index arrays."""
    nq, nr = queries.shape[0], rows.shape[0]
    out_q: list[Intp] = []
    out_r: list[Intp] = []
    out_d: list[Dist] = []
    if nq == 0 or nr == 0:
        return _empty_intp(), _empty_intp(), np.zeros(0, dtype=np.uint32)
    q_step = max(1, min(nq, _SCAN_PAIRS // max(1, min(nr, _SCAN_PAIRS))))
    r_step = max(1, _SCAN_PAIRS // q_step)
    for q0 in range(0, nq, q_step):
        qb = queries[q0 : q0 + q_step, None, :]
        for r0 in range(0, nr, r_step):
            dist = _row_distances(rows[r0 : r0 + r_step][None, :, :], qb)
            qi, ri = np.nonzero(dist <= threshold)
            if qi.size:
                out_q.append(qi + q0)
                out_r.append(ri + r0)
                out_d.append(dist[qi, ri])
    if not out_q:
        return _empty_intp(), _empty_intp(), np.zeros(0, dtype=np.uint32)
    return np.concatenate(out_q), np.concatenate(out_r), np.concatenate(out_d)


def _empty_intp() -> Intp:
    return np.zeros(0, dtype=np.intp)


def _expand_ranges(starts: I64, lengths: I64) -> I64:
    """Concatenation of ``arange(s, s + n)`` for each (s, n), vectorised."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    base = np.repeat(starts - (ends - lengths), lengths)
    positions: I64 = base + np.arange(total, dtype=np.int64)
    return positions


def _assemble(nq: int, qidx: Intp, keys: I64, dist: Dist) -> list[list[Match]]:
    """Per query: one (key, distance) per key, its smallest distance, sorted."""
    if qidx.size == 0:
        return [[] for _ in range(nq)]
    order = np.lexsort((dist, keys, qidx))
    qidx, keys, dist = qidx[order], keys[order], dist[order]
    first = np.ones(qidx.size, dtype=np.bool_)
    first[1:] = (qidx[1:] != qidx[:-1]) | (keys[1:] != keys[:-1])
    qidx, keys, dist = qidx[first], keys[first], dist[first]
    order = np.lexsort((keys, dist, qidx))
    qidx, keys, dist = qidx[order], keys[order], dist[order]
    bounds = np.searchsorted(qidx, np.arange(nq + 1)).tolist()
    key_list: list[int] = keys.tolist()
    dist_list: list[int] = dist.tolist()
    return [
        list(zip(key_list[a:b], dist_list[a:b], strict=True)) for a, b in itertools.pairwise(bounds)
    ]


class _Sealed:
    """The compacted part: codes sorted by key plus one CSR table per chunk."""

    __slots__ = ("codes", "codes64", "dead", "dead_count", "ids_hi", "ids_lo", "keys", "offsets")

    def __init__(
        self, codes: U8, keys: I64, dead: Bools, offsets: U32, ids_lo: U16, ids_hi: U8 | U16
    ) -> None:
        self.codes = codes
        self.codes64: U64 = codes.view(np.uint64)
        self.keys = keys
        self.dead = dead
        self.dead_count = int(np.count_nonzero(dead))
        self.offsets = offsets
        self.ids_lo = ids_lo
        self.ids_hi = ids_hi

    @property
    def size(self) -> int:
        return int(self.codes.shape[0])

    @classmethod
    def empty(cls) -> _Sealed:
        return cls.build(np.zeros((0, HASH_BYTES), dtype=np.uint8), np.zeros(0, dtype=np.int64))

    @classmethod
    def build(cls, codes: U8, keys: I64) -> _Sealed:
        n = int(codes.shape[0])
        if n > MAX_ROWS:
            raise ValueError(f"at most {MAX_ROWS} rows per index, got {n}")
        if n > 1 and not bool(np.all(keys[1:] >= keys[:-1])):
            order = np.argsort(keys, kind="stable")
            codes = np.take(codes, order, axis=0)
            keys = np.take(keys, order)
        codes = np.ascontiguousarray(codes)
        keys = np.ascontiguousarray(keys)
        hi_dtype = np.uint8 if n <= _HI8_LIMIT else np.uint16
        offsets = np.zeros((NCHUNKS, NBUCKETS + 1), dtype=np.uint32)
        ids_lo = np.empty((NCHUNKS, n), dtype=np.uint16)
        ids_hi = np.empty((NCHUNKS, n), dtype=hi_dtype)
        chunks = codes.view("<u2")
        for c in range(NCHUNKS):
            column = np.ascontiguousarray(chunks[:, c])
            offsets[c, 1:] = np.cumsum(np.bincount(column, minlength=NBUCKETS))
            order = np.argsort(column, kind="stable")  # radix sort for 16-bit values
            del column
            np.copyto(ids_lo[c], order, casting="unsafe")  # keeps the low 16 bits
            np.right_shift(order, 16, out=order)
            np.copyto(ids_hi[c], order, casting="unsafe")
            del order
        dead = np.zeros(n, dtype=np.bool_)
        return cls(codes, keys, dead, offsets, ids_lo, ids_hi)

    def nbytes(self) -> int:
        arrays = (self.codes, self.keys, self.dead, self.offsets, self.ids_lo, self.ids_hi)
        return sum(int(a.nbytes) for a in arrays)

    def candidate_ranges(self, queries: U8, nflip: int) -> tuple[I64, I64, Intp]:
        """For each query, the CSR ranges of every probed bucket: (starts, lengths, query)."""
        n = self.size
        masks = _probe_masks(nflip)
        chunks = queries.view("<u2")  # (B, 16)
        values = chunks[:, :, None] ^ masks[None, None, :]  # (B, 16, P)
        chunk_base = (np.arange(NCHUNKS, dtype=np.int64) * (NBUCKETS + 1))[None, :, None]
        bucket = (values.astype(np.int64) + chunk_base).reshape(-1)
        flat = self.offsets.reshape(-1)
        starts = np.take(flat, bucket).astype(np.int64)
        lengths = np.take(flat, bucket + 1).astype(np.int64) - starts
        id_base = (np.arange(NCHUNKS, dtype=np.int64) * n)[None, :, None]
        starts += np.broadcast_to(id_base, values.shape).reshape(-1)
        per_query = NCHUNKS * masks.shape[0]
        qidx = np.repeat(np.arange(queries.shape[0], dtype=np.intp), per_query)
        nonempty = lengths > 0
        return starts[nonempty], lengths[nonempty], qidx[nonempty]

    def probe(
        self, queries: U8, queries64: U64, threshold: int, qidx_offset: int = 0
    ) -> tuple[Intp, Intp, Dist]:
        """Matches of ``queries`` among sealed rows, as (query, row, distance) arrays."""
        nq = queries.shape[0]
        n = self.size
        nflip = threshold // CHUNK_BITS
        if n == 0 or nq == 0:
            return _empty_intp(), _empty_intp(), np.zeros(0, dtype=np.uint32)
        use_buckets = nflip <= _MAX_NFLIP
        if use_buckets:
            starts, lengths, range_q = self.candidate_ranges(queries, nflip)
            use_buckets = int(lengths.sum()) * _BRUTE_SHARE <= n * nq
        if not use_buckets:
            qi, rows, dist = _scan(self.codes64, queries64, threshold)
        else:
            positions = _expand_ranges(starts, lengths)
            rows = np.take(self.ids_lo.reshape(-1), positions).astype(np.intp)
            rows |= np.take(self.ids_hi.reshape(-1), positions).astype(np.intp) << 16
            del positions
            cand = np.take(self.codes64, rows, axis=0)
            if nq == 1:
                dist = _row_distances(cand, queries64[0])
                del cand
                hit = np.flatnonzero(dist <= threshold)
                qi = np.zeros(hit.shape[0], dtype=np.intp)
            else:
                # Candidates are grouped by query, in query order.
                per_query = np.bincount(range_q, weights=lengths, minlength=nq).astype(np.intp)
                dist = _row_distances(cand, np.repeat(queries64, per_query, axis=0))
                del cand
                hit = np.flatnonzero(dist <= threshold)
                qi = np.searchsorted(np.cumsum(per_query), hit, side="right")
            rows, dist = rows[hit], dist[hit]
        if rows.size and self.dead_count:
            live = ~self.dead[rows]
            qi, rows, dist = qi[live], rows[live], dist[live]
        return qi + qidx_offset, rows, dist


class PdqIndex:
    """Exact PDQ index: every live row within the threshold, nothing else.

    Each row is a 256-bit hash with a caller-supplied int64 ``key`` (a database entry
    id; keys may repeat). Results are ``(key, distance)`` pairs, one per key with the
    key's smallest distance, sorted by distance and then key. ``watermark`` is a
    caller-owned integer saved with the index (the highest database id included).
    """

    watermark: int

    def __init__(self, *, delta_limit: int = 65_536) -> None:
        if delta_limit < 1:
            raise ValueError("delta_limit must be at least 1")
        self.watermark = 0
        self._delta_limit = int(delta_limit)
        self._sealed = _Sealed.empty()
        self._dcodes = np.zeros((0, HASH_BYTES), dtype=np.uint8)
        self._dkeys = np.zeros(0, dtype=np.int64)
        self._ddead = np.zeros(0, dtype=np.bool_)
        self._dsize = 0
        self._delta_dead = 0

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        hashes: Sequence[str] | npt.NDArray[Any],
        keys: Sequence[int] | npt.NDArray[Any],
        *,
        delta_limit: int = 65_536,
    ) -> PdqIndex:
        """An index holding ``hashes`` (hex strings or (N, 32) uint8) with ``keys``."""
        rows = _as_rows(hashes)
        key_arr = _as_keys(keys, rows.shape[0])
        index = cls(delta_limit=delta_limit)
        index._sealed = _Sealed.build(rows, key_arr)
        return index

    def add(
        self, hashes: Sequence[str] | npt.NDArray[Any], keys: Sequence[int] | npt.NDArray[Any]
    ) -> None:
        """Add rows; they match immediately. Compacts when the delta reaches its limit."""
        rows = _as_rows(hashes)
        key_arr = _as_keys(keys, rows.shape[0])
        count = rows.shape[0]
        if count == 0:
            return
        if self._sealed.size + self._dsize + count > MAX_ROWS:
            raise ValueError(f"at most {MAX_ROWS} rows per index")
        needed = self._dsize + count
        if needed > self._dcodes.shape[0]:
            capacity = max(needed, 2 * self._dcodes.shape[0], _MIN_DELTA_CAPACITY)
            if needed <= self._delta_limit:
                capacity = min(capacity, self._delta_limit)
            self._grow_delta(capacity)
        end = self._dsize + count
        self._dcodes[self._dsize : end] = rows
        self._dkeys[self._dsize : end] = key_arr
        self._ddead[self._dsize : end] = False
        self._dsize = end
        if self._dsize >= self._delta_limit:
            self.compact()

    def _grow_delta(self, capacity: int) -> None:
        n = self._dsize
        codes = np.zeros((capacity, HASH_BYTES), dtype=np.uint8)
        keys = np.zeros(capacity, dtype=np.int64)
        dead = np.zeros(capacity, dtype=np.bool_)
        codes[:n] = self._dcodes[:n]
        keys[:n] = self._dkeys[:n]
        dead[:n] = self._ddead[:n]
        self._dcodes, self._dkeys, self._ddead = codes, keys, dead

    def remove_keys(self, keys: Iterable[int]) -> int:
        """Hide every row carrying one of ``keys``; returns how many rows were removed."""
        if isinstance(keys, np.ndarray):
            wanted = _as_keys(keys.reshape(-1), keys.size)
        else:
            wanted = np.array([_as_key(k) for k in keys], dtype=np.int64)
        if wanted.size == 0:
            return 0
        wanted = np.unique(wanted)
        removed = 0
        sealed = self._sealed
        if sealed.size:
            lo = np.searchsorted(sealed.keys, wanted, side="left")
            hi = np.searchsorted(sealed.keys, wanted, side="right")
            found = hi > lo
            if found.any():
                rows = _expand_ranges(lo[found], (hi - lo)[found])
                fresh = rows[~sealed.dead[rows]]
                sealed.dead[fresh] = True
                sealed.dead_count += int(fresh.size)
                removed += int(fresh.size)
        if self._dsize:
            hits = np.isin(self._dkeys[: self._dsize], wanted) & ~self._ddead[: self._dsize]
            count = int(np.count_nonzero(hits))
            if count:
                self._ddead[: self._dsize][hits] = True
                self._delta_dead += count
                removed += count
        return removed

    def compact(self) -> None:
        """Merge the delta into the sealed part and drop removed rows."""
        if self._dsize == 0 and self._sealed.dead_count == 0:
            return
        sealed = self._sealed
        if sealed.dead_count:
            live = ~sealed.dead
            codes = [np.take(sealed.codes, np.flatnonzero(live), axis=0)]
            keys = [sealed.keys[live]]
        else:
            codes = [sealed.codes]
            keys = [sealed.keys]
        if self._dsize:
            dlive = ~self._ddead[: self._dsize]
            codes.append(self._dcodes[: self._dsize][dlive])
            keys.append(self._dkeys[: self._dsize][dlive])
        merged_codes = np.concatenate(codes) if len(codes) > 1 else codes[0]
        merged_keys = np.concatenate(keys) if len(keys) > 1 else keys[0]
        del codes, keys
        self._sealed = _Sealed.build(merged_codes, merged_keys)
        self._dcodes = np.zeros((0, HASH_BYTES), dtype=np.uint8)
        self._dkeys = np.zeros(0, dtype=np.int64)
        self._ddead = np.zeros(0, dtype=np.bool_)
        self._dsize = 0
        self._delta_dead = 0

    # ------------------------------------------------------------------- queries

    def query(self, hash_hex: str, threshold: int = DEFAULT_THRESHOLD) -> list[Match]:
        """``(key, distance)`` of every live row within ``threshold`` of ``hash_hex``."""
        t = _check_threshold(threshold)
        row = hex_to_row(hash_hex).reshape(1, HASH_BYTES)
        return self._search(row, t)[0]

    def query_many(
        self,
        hashes: Sequence[str] | npt.NDArray[Any],
        threshold: int = DEFAULT_THRESHOLD,
    ) -> list[list[Match]]:
        """:meth:`query` for many hashes at once; same results, less overhead per query."""
        t = _check_threshold(threshold)
        rows = _as_rows(hashes)
        nq = rows.shape[0]
        if nq == 0:
            return []
        n = self._sealed.size
        per_query = NCHUNKS * _probe_masks(min(t // CHUNK_BITS, _MAX_NFLIP)).shape[0]
        expected = per_query * n // NBUCKETS + 1
        step = max(1, min(1024, _BATCH_CANDIDATES // expected))
        out: list[list[Match]] = []
        for q0 in range(0, nq, step):
            out.extend(self._search(rows[q0 : q0 + step], t))
        return out

    def _search(self, rows: U8, threshold: int) -> list[list[Match]]:
        nq = rows.shape[0]
        rows64: U64 = rows.view(np.uint64)
        qi, sealed_rows, dist = self._sealed.probe(rows, rows64, threshold)
        keys = np.take(self._sealed.keys, sealed_rows)
        if self._dsize:
            dq, drows, ddist = _scan(self._dcodes[: self._dsize].view(np.uint64), rows64, threshold)
            if self._delta_dead and drows.size:
                live = ~self._ddead[drows]
                dq, drows, ddist = dq[live], drows[live], ddist[live]
            if drows.size:
                qi = np.concatenate([qi, dq])
                keys = np.concatenate([keys, np.take(self._dkeys, drows)])
                dist = np.concatenate([dist, ddist])
        return _assemble(nq, qi, keys, dist)

    # ------------------------------------------------------------------- sizes

    def __len__(self) -> int:
        return self._sealed.size - self._sealed.dead_count + self._dsize - self._delta_dead

    @property
    def sealed_count(self) -> int:
        """Rows in the sealed part, removed ones included."""
        return self._sealed.size

    @property
    def delta_count(self) -> int:
        """Rows in the delta, removed ones included."""
        return self._dsize

    def memory_bytes(self) -> int:
        """Bytes held by the index's numpy arrays (delta counted at capacity)."""
        delta = self._dcodes.nbytes + self._dkeys.nbytes + self._ddead.nbytes
        return self._sealed.nbytes() + int(delta)

    # ---------------------------------------------------------------- persistence

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        s = self._sealed
        d = self._dsize
        return {
            "codes": s.codes,
            "keys": s.keys,
            "tombstones": s.dead,
            "chunk_offsets": s.offsets,
            "chunk_ids_lo": s.ids_lo,
            "chunk_ids_hi": s.ids_hi,
            "delta_codes": self._dcodes[:d],
            "delta_keys": self._dkeys[:d],
            "delta_tombstones": self._ddead[:d],
        }

    def save(self, directory: Path | str) -> None:
        """Write the index to ``directory`` atomically (temp dir, fsync, rename).

        An existing ``directory`` is replaced only if it is empty or holds an index;
        anything else raises FileExistsError rather than being deleted.
        """
        target = Path(directory)
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            if not target.is_dir():
                raise FileExistsError(f"{target} exists and is not a directory")
            if any(target.iterdir()) and not _looks_like_index(target):
                raise FileExistsError(f"{target} exists and does not hold a PDQ index")
        if not isinstance(self.watermark, int) or isinstance(self.watermark, bool):
            raise TypeError("watermark must be an int")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        try:
            records: dict[str, dict[str, Any]] = {}
            for name, array in self._arrays().items():
                data = np.ascontiguousarray(array)
                with open(tmp / f"{name}.npy", "wb") as fh:
                    np.save(fh, data, allow_pickle=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                records[name] = {
                    "shape": list(data.shape),
                    "dtype": data.dtype.str,
                    "crc32": _crc32(data),
                }
            meta = {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "count": self._sealed.size,
                "delta_count": self._dsize,
                "live_count": len(self),
                "chunks": NCHUNKS,
                "bits_per_chunk": CHUNK_BITS,
                "watermark": self.watermark,
                "arrays": records,
            }
            with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
                json.dump(meta, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dir(tmp)
            if target.exists():
                old = parent / f".{target.name}.old-{uuid.uuid4().hex}"
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
            _fsync_dir(parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(
        cls, directory: Path | str, *, verify_checksums: bool = True, delta_limit: int = 65_536
    ) -> PdqIndex:
        """Read an index written by :meth:`save`.

        Raises FileNotFoundError when ``directory`` does not exist and ValueError when
        its contents are not a valid index of this format and version (wrong format
        or version, missing or truncated arrays, shapes or dtypes that disagree with
        ``meta.json``, checksum mismatches, inconsistent CSR offsets).
        """
        source = Path(directory)
        if not source.is_dir():
            raise FileNotFoundError(f"no index directory at {source}")
        meta = _read_meta(source)
        n, d = meta["count"], meta["delta_count"]
        hi_dtype = np.dtype(np.uint8 if n <= _HI8_LIMIT else np.uint16)
        expected: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {
            "codes": ((n, HASH_BYTES), np.dtype(np.uint8)),
            "keys": ((n,), np.dtype(np.int64)),
            "tombstones": ((n,), np.dtype(np.bool_)),
            "chunk_offsets": ((NCHUNKS, NBUCKETS + 1), np.dtype(np.uint32)),
            "chunk_ids_lo": ((NCHUNKS, n), np.dtype(np.uint16)),
            "chunk_ids_hi": ((NCHUNKS, n), hi_dtype),
            "delta_codes": ((d, HASH_BYTES), np.dtype(np.uint8)),
            "delta_keys": ((d,), np.dtype(np.int64)),
            "delta_tombstones": ((d,), np.dtype(np.bool_)),
        }
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, (shape, dtype) in expected.items():
            arrays[name] = _load_array(
                source, name, shape, dtype, meta["arrays"][name], verify_checksums
            )
        _check_structure(arrays, n)
        index = cls(delta_limit=delta_limit)
        index.watermark = meta["watermark"]
        index._sealed = _Sealed(
            arrays["codes"],
            arrays["keys"],
            arrays["tombstones"],
            arrays["chunk_offsets"],
            arrays["chunk_ids_lo"],
            arrays["chunk_ids_hi"],
        )
        if d:
            index._grow_delta(max(d, _MIN_DELTA_CAPACITY))
            index._dcodes[:d] = arrays["delta_codes"]
            index._dkeys[:d] = arrays["delta_keys"]
            index._ddead[:d] = arrays["delta_tombstones"]
            index._dsize = d
            index._delta_dead = int(np.count_nonzero(arrays["delta_tombstones"]))
        if len(index) != meta["live_count"]:
            raise ValueError(
                f"corrupt index in {source}: meta.json says {meta['live_count']} live rows, "
                f"the tombstones leave {len(index)}"
            )
        return index


# --------------------------------------------------------------------- file helpers


def _crc32(array: npt.NDArray[Any]) -> int:
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    return zlib.crc32(flat.data) & 0xFFFFFFFF


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _looks_like_index(path: Path) -> bool:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT_NAME


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_meta(source: Path) -> dict[str, Any]:
    path = source / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"not a PDQ index: {path} is missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"corrupt index: cannot read {path}: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"corrupt index: {path} is not a JSON object")
    if meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: format is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: version {meta.get('version')!r} is not supported "
            f"(this code reads version {FORMAT_VERSION})"
        )
    if meta.get("chunks") != NCHUNKS or meta.get("bits_per_chunk") != CHUNK_BITS:
        raise ValueError(
            f"{path}: chunks={meta.get('chunks')!r}, bits_per_chunk="
            f"{meta.get('bits_per_chunk')!r}; expected {NCHUNKS} and {CHUNK_BITS}"
        )
    for field in ("count", "delta_count", "live_count", "watermark"):
        if not _is_int(meta.get(field)):
            raise ValueError(f"{path}: {field!r} must be an integer")
    for field in ("count", "delta_count", "live_count"):
        if meta[field] < 0:
            raise ValueError(f"{path}: {field!r} must not be negative")
    if meta["count"] > MAX_ROWS:
        raise ValueError(f"{path}: count {meta['count']} exceeds {MAX_ROWS}")
    arrays = meta.get("arrays")
    if not isinstance(arrays, dict) or any(
        not isinstance(arrays.get(name), dict) for name in _ARRAY_FILES
    ):
        raise ValueError(f"{path}: 'arrays' must describe {', '.join(_ARRAY_FILES)}")
    return meta


def _load_array(
    source: Path,
    name: str,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    record: dict[str, Any],
    verify_checksum: bool,
) -> npt.NDArray[Any]:
    path = source / f"{name}.npy"
    if record.get("shape") != list(shape) or record.get("dtype") != dtype.str:
        raise ValueError(
            f"corrupt index: meta.json describes {name} as {record.get('shape')} "
            f"{record.get('dtype')}, expected {list(shape)} {dtype.str}"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise ValueError(f"corrupt index: {path} is missing") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"corrupt index: {path} is unreadable or truncated: {exc}") from exc
    if not isinstance(array, np.ndarray):
        raise ValueError(f"corrupt index: {path} does not hold a single array")
    if array.shape != shape or array.dtype != dtype:
        raise ValueError(
            f"corrupt index: {path} holds {array.shape} {array.dtype}, expected {shape} {dtype}"
        )
    if verify_checksum:
        expected = record.get("crc32")
        if not _is_int(expected):
            raise ValueError(f"corrupt index: meta.json has no checksum for {name}")
        if _crc32(array) != expected:
            raise ValueError(f"corrupt index: checksum mismatch in {path}")
    return array


def _check_structure(arrays: dict[str, npt.NDArray[Any]], n: int) -> None:
    offsets = arrays["chunk_offsets"]
    if offsets[:, 0].any() or bool(np.any(offsets[:, -1] != n)):
        raise ValueError("corrupt index: chunk offsets do not span the rows")
    if bool(np.any(offsets[:, 1:] < offsets[:, :-1])):
        raise ValueError("corrupt index: chunk offsets are not monotonic")
    keys = arrays["keys"]
    if keys.size > 1 and not bool(np.all(keys[1:] >= keys[:-1])):
        raise ValueError("corrupt index: sealed keys are not sorted")
    hi = arrays["chunk_ids_hi"]
    if n and int(hi.max()) > (n - 1) >> 16:
        raise ValueError("corrupt index: chunk ids out of range")


_probe_masks(DEFAULT_THRESHOLD // CHUNK_BITS)  # build the default masks at import
