"""RFC 6962/9162 Merkle trees, checked against vectors worked out by hand with hashlib."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from haechi.evidence.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def L(data: bytes) -> bytes:
    return H(b"\x00" + data)


def N(left: bytes, right: bytes) -> bytes:
    return H(b"\x01" + left + right)


LEAVES = [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]
a, b, c, d, e, f, g = (L(x) for x in LEAVES)

#: Roots of the trees of the first n leaves, written out from RFC 6962 section 2.1.
HAND_ROOTS = {
    0: H(b""),
    1: a,
    2: N(a, b),
    3: N(N(a, b), c),
    4: N(N(a, b), N(c, d)),
    5: N(N(N(a, b), N(c, d)), e),
    6: N(N(N(a, b), N(c, d)), N(e, f)),
    7: N(N(N(a, b), N(c, d)), N(N(e, f), g)),
}


def tree(n: int) -> MerkleTree:
    return MerkleTree([L(x) for x in LEAVES[:n]])


def test_leaf_and_node_hashes_use_domain_separation() -> None:
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT


@pytest.mark.parametrize("n", range(8))
def test_roots_match_hand_derived_vectors(n: int) -> None:
    assert tree(n).root() == HAND_ROOTS[n]
    assert root_from_leaf_hashes([L(x) for x in LEAVES[:n]]) == HAND_ROOTS[n]
    assert tree(7).root(n) == HAND_ROOTS[n]


def test_rfc6962_reference_tree_of_eight_leaves() -> None:
    """The eight leaves of the certificate-transparency reference tests."""
    data = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243",
                                       "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
    assert MerkleTree([L(x) for x in data]).root().hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


def test_inclusion_proofs_by_hand() -> None:
    t = tree(7)
    # Leaf 0 of 7: sibling b, then the (c, d) node, then the right subtree of three.
    assert t.inclusion_proof(0) == [b, N(c, d), N(N(e, f), g)]
    # Leaf 6 (g) is alone on the right: its path is the (e, f) node and the left half.
    assert t.inclusion_proof(6) == [N(e, f), N(N(a, b), N(c, d))]
    assert t.inclusion_proof(4) == [f, g, N(N(a, b), N(c, d))]
    assert t.inclusion_proof(2, 3) == [N(a, b)]
    assert t.inclusion_proof(0, 1) == []


def test_consistency_proofs_by_hand() -> None:
    t = tree(7)
    # RFC 6962 section 2.1.3 example tree: PROOF(3, D[7]) = [c, d, g(a,b), h(ef,g)]
    assert t.consistency_proof(3) == [c, d, N(a, b), N(N(e, f), g)]
    assert t.consistency_proof(4) == [N(N(e, f), g)]
    assert t.consistency_proof(6) == [N(e, f), g, N(N(a, b), N(c, d))]
    assert t.consistency_proof(2, 4) == [N(c, d)]


def test_every_proof_verifies_and_every_wrong_one_fails() -> None:
    t = tree(7)
    for size in range(1, 8):
        root = t.root(size)
        for i in range(size):
            proof = t.inclusion_proof(i, size)
            assert verify_inclusion(t.leaf(i), i, size, proof, root)
            assert not verify_inclusion(L(b"x"), i, size, proof, root)
            assert not verify_inclusion(t.leaf(i), i, size, proof, HAND_ROOTS[0])
            if size > 1:
                assert not verify_inclusion(t.leaf(i), (i + 1) % size, size, proof, root)
                assert not verify_inclusion(t.leaf(i), i, size, proof[:-1], root)
    for m, n in itertools.combinations_with_replacement(range(8), 2):
        proof = t.consistency_proof(m, n)
        assert verify_consistency(m, n, t.root(m), t.root(n), proof), (m, n)
        if 0 < m < n:
            assert not verify_consistency(m, n, t.root(m), L(b"x"), proof)
            assert not verify_consistency(m, n, L(b"x"), t.root(n), proof)
            assert not verify_consistency(m, n, t.root(m), t.root(n), proof[:-1])


def test_large_tree_matches_one_pass_root_and_proofs() -> None:
    hashes = [L(str(i).encode()) for i in range(1000)]
    t = MerkleTree(hashes)
    for size in (1, 2, 3, 511, 512, 513, 999, 1000):
        assert t.root(size) == root_from_leaf_hashes(hashes[:size])
    for i in (0, 1, 500, 511, 512, 998, 999):
        assert verify_inclusion(hashes[i], i, 1000, t.inclusion_proof(i), t.root())
    for m in (1, 7, 512, 700):
        assert verify_consistency(m, 1000, t.root(m), t.root(), t.consistency_proof(m))


def test_out_of_range_requests_are_refused() -> None:
    t = tree(3)
    with pytest.raises(ValueError):
        t.inclusion_proof(3)
    with pytest.raises(ValueError):
        t.consistency_proof(4, 3)
    assert not verify_inclusion(a, 3, 3, [], t.root())
