"""An inverted index from keypoint "words" to bank entries: the candidate step of the
keypoint layer.

Words: each ORB descriptor (256 bits) gives one word per table, the value of ``BITS``
fixed bit positions (locality-sensitive hashing by bit sampling, Indyk & Motwani 1998).
ORB's tests were chosen to be uncorrelated and near 50 % likely (Rublee et al., 2011),
so sampled bits spread descriptors evenly over the 2**20 words of a table, while the
same point in an edited copy (a few dozen of 256 bits flipped) keeps its word in one
table or the other about half the time. No vocabulary is trained, so nothing here
depends on a data set.

Postings: ``entry_id * 2 + mirrored``; each entry posts the words of its strongest
points as banked and of its mirror image. A query counts, per posting, the words it
shares with the upload, weighted by how rare each word is (idf), and returns the best
few for the geometric check. Words found in more than ``_STOP_SHARE`` of the postings
say nothing and are skipped.

Layout: a sealed part in CSR form (per table, ``offsets`` into one ``postings`` array,
4 bytes per posting plus 8 MiB of offsets per table) and a delta of recent additions
(word and posting arrays sorted by word, so adding and asking cost nothing like the
index's size and a query looks its words up with one binary search), merged when it
grows past ``delta_limit`` postings. Entries are
removed with a tombstone per entry id and dropped at the next merge. Re-enabling an
entry only clears its tombstone; an id that comes back with other words (SQLite hands
out a deleted entry's id again) is dropped by a merge before its new words go in, which
a fingerprint of its words per entry tells apart.

Persistence: one ``.npz`` (never pickled) with a CRC32 per array and the watermark,
written to a temporary file, fsynced and renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

TABLES = 2
BITS = 20
NWORDS = 1 << BITS
FORMAT = "haechi-keypoint-words"
VERSION = 1
#: Words posted by more than this share of all postings are skipped at query time.
_STOP_SHARE = 0.01
_STOP_FLOOR = 500

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

# Fixed, documented bit positions: every process and every saved index agree on them.
_POSITIONS = np.random.default_rng(20261125).permutation(256)[: TABLES * BITS].reshape(
    TABLES, BITS)
_WEIGHTS = (1 << np.arange(BITS, dtype=np.uint32)).astype(np.uint32)


def words(descriptors: U8) -> U32:
    """(TABLES, n) word of each descriptor in each table."""
    if descriptors.size == 0:
        return np.zeros((TABLES, 0), np.uint32)
    bits = np.unpackbits(np.ascontiguousarray(descriptors, dtype=np.uint8), axis=1)
    return np.stack([bits[:, _POSITIONS[t]].astype(np.uint32) @ _WEIGHTS
                     for t in range(TABLES)]).astype(np.uint32)


def _tagged(word_rows: U32) -> U32:
    """Words of all tables in one value space: table t's words become t * NWORDS + w."""
    tags = (np.arange(TABLES, dtype=np.uint32) * NWORDS)[:, None]
    return (word_rows + tags).astype(np.uint32)


class WordIndex:
    """Keypoint words of bank entries, both orientations, keyed by entry id."""

    def __init__(self, *, delta_limit: int = 262_144) -> None:
        self.watermark = 0
        self.delta_limit = delta_limit
        self._offsets = np.zeros(TABLES * NWORDS + 1, np.int64)
        self._postings = np.zeros(0, np.uint32)
        # The delta, sorted by word (stable: postings of a word in the order added).
        self._dwords = np.zeros(0, np.uint32)
        self._dpostings = np.zeros(0, np.uint32)
        self._present = np.zeros(0, np.bool_)
        self._dead = np.zeros(0, np.bool_)
        self._fingerprints = np.zeros(0, np.uint32)
        self._live = 0

    # ---------------------------------------------------------------- building

    @classmethod
    def from_arrays(cls, offsets: I64, postings: U32, entries: int) -> WordIndex:
        """A sealed index from CSR arrays (``offsets`` per tagged word into
        ``postings``), holding entries ``0 .. entries - 1``."""
        if offsets.shape != (TABLES * NWORDS + 1,) or int(offsets[-1]) != len(postings):
            raise ValueError("offsets do not describe the postings")
        index = cls()
        index._offsets, index._postings = offsets, postings
        index._present = np.ones(entries, np.bool_)
        index._dead = np.zeros(entries, np.bool_)
        index._fingerprints = np.zeros(entries, np.uint32)
        index._live = entries
        return index

    @classmethod
    def build(cls, entries: list[tuple[int, U8, U8]]) -> WordIndex:
        """From ``(entry_id, descriptors as banked, mirrored descriptors)``."""
        index = cls()
        index._append(entries)
        index.compact()
        return index

    def add(self, entries: list[tuple[int, U8, U8]]) -> None:
        """Add entries (visible at once); an entry already held is revived, not doubled."""
        fresh, replaced = [], []
        for entry_id, original, mirrored in entries:
            if entry_id < len(self._present) and self._present[entry_id]:
                if self._fingerprints[entry_id] != _fingerprint(original, mirrored):
                    replaced.append(entry_id)
                    fresh.append((entry_id, original, mirrored))
                elif self._dead[entry_id]:
                    self._dead[entry_id] = False
                    self._live += 1
            else:
                fresh.append((entry_id, original, mirrored))
        if replaced:
            # Rare (a reused id): the old words must go before the new ones come in.
            self.remove(replaced)
            self.compact()
        self._append(fresh)
        if len(self._dpostings) > self.delta_limit:
            self.compact()

    def _append(self, entries: list[tuple[int, U8, U8]]) -> None:
        if not entries:
            return
        self._grow(max(e[0] for e in entries) + 1)
        new_words, new_postings = [self._dwords], [self._dpostings]
        for entry_id, original, mirrored in entries:
            self._fingerprints[entry_id] = _fingerprint(original, mirrored)
            for side, desc in enumerate((original, mirrored)):
                unique = np.unique(_tagged(words(desc)))
                new_words.append(unique)
                new_postings.append(np.full(len(unique), entry_id * 2 + side, np.uint32))
        self._set_delta(np.concatenate(new_words), np.concatenate(new_postings))
        for entry_id, _o, _m in entries:
            if not self._present[entry_id]:
                self._present[entry_id] = True
                self._live += 1

    def _set_delta(self, dwords: U32, dpostings: U32) -> None:
        order = np.argsort(dwords, kind="stable")
        self._dwords = dwords[order].astype(np.uint32)
        self._dpostings = dpostings[order].astype(np.uint32)

    def _grow(self, size: int) -> None:
        if size > len(self._present):
            capacity = max(size, 2 * len(self._present), 1024)
            self._present = np.concatenate([self._present,
                                            np.zeros(capacity - len(self._present), np.bool_)])
            self._dead = np.concatenate([self._dead,
                                         np.zeros(capacity - len(self._dead), np.bool_)])
            self._fingerprints = np.concatenate([
                self._fingerprints, np.zeros(capacity - len(self._fingerprints), np.uint32)])

    def remove(self, entry_ids: list[int]) -> int:
        """Tombstone entries; returns how many were live."""
        removed = 0
        for entry_id in entry_ids:
            if entry_id < len(self._present) and self._present[entry_id] \
                    and not self._dead[entry_id]:
                self._dead[entry_id] = True
                removed += 1
        self._live -= removed
        return removed

    def compact(self) -> None:
        """Merge the delta into the sealed part and drop removed entries."""
        counts = np.diff(self._offsets)
        words_all = np.concatenate([
            np.repeat(np.arange(TABLES * NWORDS, dtype=np.uint32), counts), self._dwords])
        postings_all = np.concatenate([self._postings, self._dpostings])
        dead_entries = np.flatnonzero(self._dead)
        if dead_entries.size:
            keep = ~self._dead[postings_all >> 1]
            words_all, postings_all = words_all[keep], postings_all[keep]
            self._present[dead_entries] = False
            self._dead[dead_entries] = False
        order = np.argsort(words_all, kind="stable")
        self._postings = postings_all[order]
        self._offsets = np.zeros(TABLES * NWORDS + 1, np.int64)
        np.cumsum(np.bincount(words_all, minlength=TABLES * NWORDS), out=self._offsets[1:])
        self._dwords = np.zeros(0, np.uint32)
        self._dpostings = np.zeros(0, np.uint32)

    # ---------------------------------------------------------------- queries

    def query(self, descriptors: U8, *, limit: int = 4,
              min_words: int = 4) -> list[tuple[int, bool, int, float]]:
        """Best candidates for an upload's descriptors: ``(entry_id, mirrored, words
        shared, score)``, at most ``limit``, each sharing at least ``min_words`` words."""
        if descriptors.size == 0 or self._live == 0:
            return []
        asked = np.unique(_tagged(words(descriptors)))
        starts, ends = self._offsets[asked], self._offsets[asked + 1]
        dstarts = np.searchsorted(self._dwords, asked, side="left").astype(np.int64)
        dends = np.searchsorted(self._dwords, asked, side="right").astype(np.int64)
        df = (ends - starts) + (dends - dstarts)
        total = len(self._postings) + len(self._dpostings)
        usable = (df > 0) & (df <= max(_STOP_FLOOR, _STOP_SHARE * total))
        if not usable.any():
            return []
        idf = np.log((total + 1) / (df + 1))
        lengths = np.where(usable, ends - starts, 0)
        dlengths = np.where(usable, dends - dstarts, 0)
        hits = np.concatenate([self._postings[_expand(starts, lengths)],
                               self._dpostings[_expand(dstarts, dlengths)]])
        weights = np.concatenate([np.repeat(idf, lengths), np.repeat(idf, dlengths)])
        alive = ~self._dead[hits >> 1]
        hits, weights = hits[alive], weights[alive]
        if hits.size == 0:
            return []
        ids, inverse, shared = np.unique(hits, return_inverse=True, return_counts=True)
        scores = np.bincount(inverse, weights=weights)
        eligible = np.flatnonzero(shared >= min_words)
        best = eligible[np.argsort(-scores[eligible], kind="stable")[:limit]]
        return [(int(ids[i]) >> 1, bool(ids[i] & 1), int(shared[i]), float(scores[i]))
                for i in best]

    # ---------------------------------------------------------------- figures

    def __len__(self) -> int:
        return self._live

    def memory_bytes(self) -> int:
        return int(self._offsets.nbytes + self._postings.nbytes + self._dwords.nbytes
                   + self._dpostings.nbytes + self._present.nbytes + self._dead.nbytes
                   + self._fingerprints.nbytes)

    # ---------------------------------------------------------------- persistence

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"offsets": self._offsets, "postings": self._postings,
                "delta_words": self._dwords, "delta_postings": self._dpostings,
                "present": self._present, "dead": self._dead,
                "fingerprints": self._fingerprints}

    def save(self, directory: Path | str) -> None:
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        arrays = self._arrays()
        meta = {"format": FORMAT, "version": VERSION, "tables": TABLES, "bits": BITS,
                "watermark": int(self.watermark), "live": self._live,
                "crc32": {name: _crc32(a) for name, a in arrays.items()}}
        fd, tmp = tempfile.mkstemp(prefix=".words-", suffix=".npz", dir=target)
        try:
            with os.fdopen(fd, "wb") as fh:
                payload: dict[str, Any] = {"meta": np.array(json.dumps(meta)), **arrays}
                np.savez(fh, **payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target / "words.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, directory: Path | str) -> WordIndex:
        """FileNotFoundError when nothing was saved; ValueError when the file is not a
        usable index (format, version, checksums, shapes)."""
        path = Path(directory) / "words.npz"
        if not path.is_file():
            raise FileNotFoundError(f"no keypoint word index at {path}")
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise ValueError("not an .npz archive")
                meta = json.loads(str(data["meta"]))
                arrays = {name: np.array(data[name]) for name in cls()._arrays()}
        except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError,
                zlib.error, zipfile.BadZipFile) as exc:
            raise ValueError(f"unreadable keypoint word index {path}: {exc}") from exc
        if (meta.get("format"), meta.get("version"), meta.get("tables"),
                meta.get("bits")) != (FORMAT, VERSION, TABLES, BITS):
            raise ValueError(f"{path} is not a version {VERSION} keypoint word index "
                             f"with {TABLES} tables of {BITS} bits")
        for name, array in arrays.items():
            if meta.get("crc32", {}).get(name) != _crc32(array):
                raise ValueError(f"checksum mismatch in {path} ({name})")
            if array.dtype != _DTYPES[name]:
                raise ValueError(f"inconsistent keypoint word index {path}: {name} holds "
                                 f"{array.dtype}, expected {np.dtype(_DTYPES[name])}")
        index = cls()
        if arrays["offsets"].shape != (TABLES * NWORDS + 1,) or \
                int(arrays["offsets"][-1]) != len(arrays["postings"]) or \
                arrays["present"].shape != arrays["dead"].shape or \
                arrays["fingerprints"].shape != arrays["present"].shape:
            raise ValueError(f"inconsistent keypoint word index {path}")
        for name in ("postings", "delta_postings"):
            if arrays[name].size and int(arrays[name].max()) >> 1 >= len(arrays["present"]):
                raise ValueError(f"inconsistent keypoint word index {path}: {name} name "
                                 "entries it does not hold")
        index._offsets, index._postings = arrays["offsets"], arrays["postings"]
        if arrays["delta_words"].shape != arrays["delta_postings"].shape:
            raise ValueError(f"inconsistent keypoint word index {path}")
        if arrays["delta_words"].size and \
                int(arrays["delta_words"].max()) >= TABLES * NWORDS:
            raise ValueError(f"inconsistent keypoint word index {path}: a delta word is "
                             "out of range")
        index._set_delta(arrays["delta_words"], arrays["delta_postings"])
        index._present, index._dead = arrays["present"], arrays["dead"]
        index._fingerprints = arrays["fingerprints"]
        index._live = int(meta["live"])
        index.watermark = int(meta["watermark"])
        return index


_DTYPES: dict[str, type[np.generic]] = {
    "offsets": np.int64, "postings": np.uint32, "delta_words": np.uint32,
    "delta_postings": np.uint32, "present": np.bool_, "dead": np.bool_,
    "fingerprints": np.uint32}


def _fingerprint(original: U8, mirrored: U8) -> int:
    """Tells an entry's words from another's without keeping them."""
    return zlib.crc32(np.ascontiguousarray(mirrored).data,
                      zlib.crc32(np.ascontiguousarray(original).data)) & 0xFFFFFFFF


def _crc32(array: npt.NDArray[Any]) -> int:
    return zlib.crc32(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data) & 0xFFFFFFFF


def _expand(starts: I64, lengths: I64) -> I64:
    """Concatenated ``range(s, s + n)`` for each start and length."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(starts - (ends - lengths), lengths)
    return np.asarray(np.arange(total, dtype=np.int64) + offsets, dtype=np.int64)
