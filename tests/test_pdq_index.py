"""PdqIndex: exact against brute force, incremental, removable, persisted safely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from haechi.index import PdqIndex, bits_to_hex, hex_to_bits

Rows = npt.NDArray[np.uint8]
THRESHOLDS = (0, 15, 31, 47)


def flip_bits(row: Rows, count: int, rng: np.random.Generator) -> Rows:
    bits = np.unpackbits(row)
    bits[rng.choice(256, size=count, replace=False)] ^= 1
    return np.packbits(bits)


def random_rows(n: int, rng: np.random.Generator) -> Rows:
    return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)


def clustered_rows(seeds: int, per_seed: int, rng: np.random.Generator) -> Rows:
    """Near-duplicate families: each seed plus variants 0..40 bits away from it."""
    base = random_rows(seeds, rng)
    out = [
        flip_bits(base[s], int(rng.integers(0, 41)), rng)
        for s in range(seeds)
        for _ in range(per_seed)
    ]
    return np.stack(out)


def brute(rows: Rows, keys: npt.NDArray[np.int64], query: Rows, t: int) -> list[tuple[int, int]]:
    """Reference answer: one (key, smallest distance) per key within t, sorted."""
    dist = np.unpackbits(rows ^ query, axis=1).sum(axis=1)
    best: dict[int, int] = {}
    for i in np.flatnonzero(dist <= t):
        key, d = int(keys[i]), int(dist[i])
        best[key] = min(d, best.get(key, d))
    return sorted(((k, d) for k, d in best.items()), key=lambda kd: (kd[1], kd[0]))


def near_queries(rows: Rows, n: int, rng: np.random.Generator) -> Rows:
    """Half near-duplicates of indexed rows (0..40 bits flipped), half unrelated."""
    near = [
        flip_bits(rows[rng.integers(len(rows))], int(rng.integers(0, 41)), rng)
        for _ in range(n // 2)
    ]
    return np.concatenate([np.stack(near), random_rows(n - n // 2, rng)])


def assert_exact(index: PdqIndex, rows: Rows, keys: npt.NDArray[np.int64], queries: Rows) -> None:
    hexes = bits_to_hex(queries)
    for t in THRESHOLDS:
        many = index.query_many(hexes, t)
        assert len(many) == len(hexes)
        for q, h, got_many in zip(queries, hexes, many, strict=True):
            want = brute(rows, keys, q, t)
            assert index.query(h, t) == want
            assert got_many == want


@pytest.fixture(scope="module")
def random_data() -> tuple[Rows, npt.NDArray[np.int64]]:
    rng = np.random.default_rng(7)
    rows = random_rows(20_000, rng)
    keys = rng.permutation(20_000).astype(np.int64) * 3 + 1_000
    return rows, keys


@pytest.fixture(scope="module")
def clustered_data() -> tuple[Rows, npt.NDArray[np.int64]]:
    rng = np.random.default_rng(11)
    rows = clustered_rows(200, 100, rng)
    keys = np.arange(len(rows), dtype=np.int64)
    return rows, keys


# ---------------------------------------------------------------------------- hex


def test_hex_roundtrip() -> None:
    rng = np.random.default_rng(0)
    rows = random_rows(50, rng)
    hexes = bits_to_hex(rows)
    assert all(len(h) == 64 and h == h.lower() for h in hexes)
    assert hexes[0] == bytes(rows[0]).hex()
    np.testing.assert_array_equal(hex_to_bits(hexes), rows)
    np.testing.assert_array_equal(hex_to_bits([h.upper() for h in hexes]), rows)
    np.testing.assert_array_equal(hex_to_bits(hexes[3]), rows[3:4])
    assert hex_to_bits([]).shape == (0, 32)


@pytest.mark.parametrize(
    "bad",
    [
        "0" * 63,
        "0" * 65,
        "",
        "g" + "0" * 63,
        "0" * 62 + " 0",
        "00 " + "0" * 61,
        "é" + "0" * 63,
    ],
)
def test_malformed_hex_rejected(bad: str) -> None:
    good = "f" * 64
    with pytest.raises(ValueError, match="malformed PDQ hash"):
        hex_to_bits([good, bad])
    with pytest.raises(ValueError, match="malformed PDQ hash"):
        hex_to_bits(bad)
    index = PdqIndex.build([good], [1])
    with pytest.raises(ValueError):
        index.query(bad)
    with pytest.raises(ValueError):
        index.query_many([good, bad])
    with pytest.raises(ValueError):
        index.add([bad], [2])


def test_compensating_lengths_rejected() -> None:
    # 63 + 65 characters join into 128 valid hex characters; each item must be checked.
    with pytest.raises(ValueError, match="position 0"):
        hex_to_bits(["a" * 63, "a" * 65])


def test_non_string_hash_rejected() -> None:
    with pytest.raises(ValueError, match="expected str"):
        hex_to_bits(["a" * 64, 5])  # type: ignore[list-item]


# -------------------------------------------------------------------- exactness


def test_exact_on_random_data(random_data: tuple[Rows, npt.NDArray[np.int64]]) -> None:
    rows, keys = random_data
    index = PdqIndex.build(rows, keys)
    assert len(index) == len(rows)
    queries = near_queries(rows, 60, np.random.default_rng(1))
    assert_exact(index, rows, keys, queries)


def test_exact_on_clustered_near_duplicates(
    clustered_data: tuple[Rows, npt.NDArray[np.int64]],
) -> None:
    rows, keys = clustered_data
    index = PdqIndex.build(bits_to_hex(rows), keys.tolist())
    queries = near_queries(rows, 60, np.random.default_rng(2))
    assert_exact(index, rows, keys, queries)
    # The families really are dense: some query must see many matches at 31.
    assert max(len(r) for r in index.query_many(bits_to_hex(queries))) > 20


def test_exact_beyond_16_bit_row_ids() -> None:
    # Row ids are stored as 16 low bits plus high bits; rows past 65,535 need both.
    rng = np.random.default_rng(15)
    rows = random_rows(70_000, rng)
    keys = np.arange(70_000, dtype=np.int64)
    index = PdqIndex.build(rows, keys)
    targets = rng.integers(65_536, 70_000, size=15)
    queries = np.stack([flip_bits(rows[i], int(rng.integers(0, 32)), rng) for i in targets])
    results = index.query_many(bits_to_hex(queries))
    for i, q, got in zip(targets, queries, results, strict=True):
        assert int(i) in {k for k, _ in got}
        assert got == brute(rows, keys, q, 31)


def test_large_thresholds_fall_back_exactly(
    random_data: tuple[Rows, npt.NDArray[np.int64]],
) -> None:
    rows, keys = random_data[0][:3000], random_data[1][:3000]
    index = PdqIndex.build(rows, keys)
    queries = near_queries(rows, 6, np.random.default_rng(3))
    for t in (63, 64, 100, 255):
        for q in queries:
            assert index.query(bits_to_hex(q)[0], t) == brute(rows, keys, q, t)
    assert len(index.query(bits_to_hex(queries[0])[0], 255)) == 3000


def test_distance_256_is_reported_as_256() -> None:
    zero, ones = "0" * 64, "f" * 64
    index = PdqIndex.build([zero], [5])
    assert index.query(ones, 255) == []
    index.add([ones], [6])
    assert index.query(zero, 255) == [(5, 0)]
    assert index.query(ones, 255) == [(6, 0)]


def test_repeated_keys_report_smallest_distance() -> None:
    rng = np.random.default_rng(4)
    base = random_rows(1, rng)[0]
    rows = np.stack(
        [base, flip_bits(base, 5, rng), flip_bits(base, 9, rng), random_rows(1, rng)[0]]
    )
    index = PdqIndex.build(rows, [7, 7, 8, 9])
    assert index.query(bits_to_hex(flip_bits(base, 0, rng))[0]) == [(7, 0), (8, 9)]


def test_results_sorted_by_distance_then_key() -> None:
    rng = np.random.default_rng(5)
    base = random_rows(1, rng)[0]
    rows = np.stack([flip_bits(base, d, rng) for d in (3, 1, 3, 0, 1)])
    index = PdqIndex.build(rows, [50, 40, 30, 60, 10])
    got = index.query(bits_to_hex(base)[0])
    assert [d for _, d in got] == sorted(d for _, d in got)
    assert got == sorted(got, key=lambda kd: (kd[1], kd[0]))
    assert {k for k, _ in got} == {10, 30, 40, 50, 60}


def test_threshold_validation() -> None:
    index = PdqIndex.build(["0" * 64], [1])
    for bad in (-1, 256, 1000):
        with pytest.raises(ValueError):
            index.query("0" * 64, bad)
        with pytest.raises(ValueError):
            index.query_many(["0" * 64], bad)
    with pytest.raises(TypeError):
        index.query("0" * 64, True)
    with pytest.raises(TypeError):
        index.query("0" * 64, 3.5)  # type: ignore[arg-type]


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="keys"):
        PdqIndex.build(["0" * 64, "1" * 64], [1])
    with pytest.raises(TypeError):
        PdqIndex.build(["0" * 64], [1.5])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        PdqIndex.build(np.zeros((2, 16), dtype=np.uint8), [1, 2])
    with pytest.raises(TypeError):
        PdqIndex().add("0" * 64, [1])  # a single string is not a batch


def test_empty_index() -> None:
    index = PdqIndex()
    assert len(index) == 0
    assert index.query("0" * 64) == []
    assert index.query_many(["0" * 64, "1" * 64]) == [[], []]
    assert index.query_many([]) == []
    assert PdqIndex.build([], []).query("a" * 64, 200) == []


def test_memory_is_compact(random_data: tuple[Rows, npt.NDArray[np.int64]]) -> None:
    rows, keys = random_data
    index = PdqIndex.build(rows, keys)
    fixed = 16 * 65537 * 4  # CSR offsets, independent of the row count
    assert index.memory_bytes() - fixed == 89 * len(rows)


# ----------------------------------------------------------- add / remove / compact


def test_add_is_visible_immediately(random_data: tuple[Rows, npt.NDArray[np.int64]]) -> None:
    rows, keys = random_data
    index = PdqIndex.build(rows[:15_000], keys[:15_000])
    rng = np.random.default_rng(6)
    target = rows[17_000]
    assert all(k != keys[17_000] for k, _ in index.query(bits_to_hex(target)[0], 0))
    index.add(rows[15_000:20_000], keys[15_000:20_000])
    assert index.delta_count == 5_000
    assert len(index) == 20_000
    assert index.query(bits_to_hex(target)[0], 0) == [(int(keys[17_000]), 0)]
    assert_exact(index, rows, keys, near_queries(rows, 30, rng))


def test_auto_compaction_keeps_results(random_data: tuple[Rows, npt.NDArray[np.int64]]) -> None:
    rows, keys = random_data
    index = PdqIndex(delta_limit=1_000)
    for start in range(0, 5_500, 700):
        index.add(rows[start : start + 700], keys[start : start + 700])
    assert index.delta_count < 1_000
    assert index.sealed_count + index.delta_count == len(index) == 5_600
    assert_exact(
        index, rows[:5_600], keys[:5_600], near_queries(rows[:5_600], 20, np.random.default_rng(8))
    )


def test_remove_hides_immediately(clustered_data: tuple[Rows, npt.NDArray[np.int64]]) -> None:
    rows, keys = clustered_data
    index = PdqIndex.build(rows[:18_000], keys[:18_000])
    index.add(rows[18_000:], keys[18_000:])
    rng = np.random.default_rng(9)
    gone = np.concatenate(
        [rng.choice(18_000, 600, replace=False), 18_000 + rng.choice(2_000, 100, replace=False)]
    )
    assert index.remove_keys(keys[gone].tolist()) == 700
    assert index.remove_keys(keys[gone[:10]].tolist()) == 0  # already removed
    assert index.remove_keys([10**12]) == 0
    assert len(index) == len(rows) - 700
    live = np.ones(len(rows), dtype=bool)
    live[gone] = False
    queries = np.concatenate([rows[gone[:20]], near_queries(rows, 20, rng)])
    assert_exact(index, rows[live], keys[live], queries)
    for q in rows[gone[:20]]:
        found = {k for k, _ in index.query(bits_to_hex(q)[0], 47)}
        assert not found & set(keys[gone].tolist())

    index.compact()
    assert index.delta_count == 0
    assert index.sealed_count == len(index) == len(rows) - 700
    assert_exact(index, rows[live], keys[live], queries)


def test_remove_all_rows_of_a_key() -> None:
    rng = np.random.default_rng(10)
    rows = random_rows(6, rng)
    index = PdqIndex.build(rows[:3], [1, 2, 1])
    index.add(rows[3:], [1, 3, 3])
    assert index.remove_keys(iter([1])) == 3
    assert index.remove_keys(np.array([3, 3])) == 2
    assert len(index) == 1
    assert index.query_many(bits_to_hex(rows), 0) == [[], [(2, 0)], [], [], [], []]


# --------------------------------------------------------------------- save / load


def test_save_load_roundtrip(
    tmp_path: Path, clustered_data: tuple[Rows, npt.NDArray[np.int64]]
) -> None:
    rows, keys = clustered_data
    index = PdqIndex.build(rows[:15_000], keys[:15_000])
    index.add(rows[15_000:], keys[15_000:])
    index.remove_keys(keys[::97].tolist())
    index.watermark = 123_456
    target = tmp_path / "pdq"
    index.save(target)
    meta = json.loads((target / "meta.json").read_text())
    assert meta["format"] == "haechi-pdq-mih"
    assert meta["version"] == 1
    assert meta["chunks"] == 16 and meta["bits_per_chunk"] == 16
    assert meta["watermark"] == 123_456
    assert meta["count"] == 15_000 and meta["delta_count"] == 5_000
    assert meta["live_count"] == len(index)
    for name in ("codes", "keys", "tombstones", "chunk_offsets", "chunk_ids_lo", "chunk_ids_hi"):
        assert (target / f"{name}.npy").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pdq"]  # no temp dirs left behind

    loaded = PdqIndex.load(target)
    assert loaded.watermark == 123_456
    assert len(loaded) == len(index)
    queries = bits_to_hex(near_queries(rows, 40, np.random.default_rng(12)))
    for t in THRESHOLDS:
        assert loaded.query_many(queries, t) == index.query_many(queries, t)
    # The loaded index stays mutable and exact.
    loaded.add(rows[:1], [999_999])
    assert (999_999, 0) in loaded.query(bits_to_hex(rows[:1])[0], 0)
    live = ~np.isin(keys, keys[::97])
    all_rows = np.concatenate([rows[live], rows[:1]])
    all_keys = np.concatenate([keys[live], [999_999]])
    for state in ("delta", "compacted"):
        if state == "compacted":
            loaded.compact()
        for q, got in zip(hex_to_bits(queries), loaded.query_many(queries), strict=True):
            assert got == brute(all_rows, all_keys, q, 31)


def test_save_replaces_previous_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    rows = random_rows(100, rng)
    target = tmp_path / "idx"
    PdqIndex.build(rows[:50], np.arange(50)).save(target)
    PdqIndex.build(rows[50:], np.arange(50, 100)).save(target)
    loaded = PdqIndex.load(target)
    assert len(loaded) == 50
    assert loaded.query(bits_to_hex(rows[60])[0], 0) == [(60, 0)]
    assert loaded.query(bits_to_hex(rows[10])[0], 0) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_save_refuses_to_replace_other_directories(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        PdqIndex.build(["0" * 64], [1]).save(target)
    assert (target / "notes.txt").read_text() == "keep me"


def test_empty_index_roundtrip(tmp_path: Path) -> None:
    PdqIndex().save(tmp_path / "empty")
    loaded = PdqIndex.load(tmp_path / "empty")
    assert len(loaded) == 0
    assert loaded.query("0" * 64) == []


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    rng = np.random.default_rng(14)
    index = PdqIndex.build(random_rows(2_000, rng), np.arange(2_000))
    index.add(random_rows(10, rng), np.arange(2_000, 2_010))
    target = tmp_path / "saved"
    index.save(target)
    return target


def _edit_meta(target: Path, **changes: object) -> None:
    meta = json.loads((target / "meta.json").read_text())
    meta.update(changes)
    (target / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "changes",
    [
        {"format": "something-else"},
        {"version": 2},
        {"chunks": 8},
        {"bits_per_chunk": 32},
        {"count": 1_999},
        {"count": "2000"},
        {"delta_count": 11},
        {"live_count": 5},
        {"watermark": None},
        {"arrays": {}},
    ],
)
def test_load_rejects_mismatched_meta(saved: Path, changes: dict[str, object]) -> None:
    _edit_meta(saved, **changes)
    with pytest.raises(ValueError):
        PdqIndex.load(saved)


def test_load_rejects_unparsable_meta(saved: Path) -> None:
    (saved / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"meta\.json"):
        PdqIndex.load(saved)
    (saved / "meta.json").unlink()
    with pytest.raises(ValueError, match="missing"):
        PdqIndex.load(saved)


@pytest.mark.parametrize("name", ["codes", "keys", "chunk_ids_lo", "chunk_offsets", "delta_codes"])
def test_load_rejects_truncated_arrays(saved: Path, name: str) -> None:
    path = saved / f"{name}.npy"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7])
    with pytest.raises(ValueError, match=name):
        PdqIndex.load(saved)


def test_load_rejects_missing_array(saved: Path) -> None:
    (saved / "chunk_ids_hi.npy").unlink()
    with pytest.raises(ValueError, match="chunk_ids_hi"):
        PdqIndex.load(saved)


def test_load_rejects_flipped_byte(saved: Path) -> None:
    path = saved / "codes.npy"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        PdqIndex.load(saved)


def test_load_rejects_wrong_shape_array(saved: Path) -> None:
    np.save(saved / "keys.npy", np.arange(1_999, dtype=np.int64))
    with pytest.raises(ValueError, match="keys"):
        PdqIndex.load(saved)


def test_load_rejects_pickled_array(saved: Path) -> None:
    np.save(saved / "keys.npy", np.array([object()] * 2_000, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="keys"):
        PdqIndex.load(saved)


def test_load_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        PdqIndex.load(tmp_path / "nope")
