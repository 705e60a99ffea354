"""RFC 6962 / RFC 9162 Merkle trees: root hashes, inclusion and consistency proofs.

Leaves are hashed as SHA-256(0x00 || data) and interior nodes as SHA-256(0x01 || left ||
right), so a leaf can never be passed off as a node. Proof generation follows the
recursive definitions of RFC 6962 section 2.1 (PATH and SUBPROOF); verification follows
the iterative algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2, which need nothing but
the proof, the sizes and the roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaves: Iterable[bytes]) -> bytes:
    """MTH of the leaves in one pass with O(log n) memory.

    The tree of n leaves is its perfect subtrees of decreasing size (the binary digits
    of n) joined from the right, which is what the recursive definition computes.
    """
    stack: list[tuple[int, bytes]] = []  # (size, hash) of perfect subtrees, largest first
    for h in leaves:
        size, node = 1, h
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            node, size = node_hash(left, node), left_size + size
        stack.append((size, node))
    if not stack:
        return EMPTY_ROOT
    node = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        node = node_hash(left, node)
    return node


class MerkleTree:
    """The leaf hashes of a log plus the hashes of its aligned perfect subtrees, so any
    proof is answered in O(log^2 n) hash look-ups after an O(n) build."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append(h)

    def __len__(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Append a leaf hash (not the leaf data)."""
        self._levels[0].append(leaf)
        level = 0
        while len(self._levels[level]) % 2 == 0:
            pair = self._levels[level][-2:]
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(node_hash(pair[0], pair[1]))
            level += 1

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) where start is a multiple of the largest power of two not
        above end - start (always so in the recursions below)."""
        n = end - start
        if n & (n - 1) == 0:  # perfect subtree: stored
            level = n.bit_length() - 1
            return self._levels[level][start >> level]
        k = _split(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = len(self) if size is None else size
        if not 0 <= size <= len(self):
            raise ValueError(f"tree size {size} is outside 0..{len(self)}")
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]): the audit path of leaf ``index`` in the tree of
        ``size`` leaves, nearest sibling first."""
        size = len(self) if size is None else size
        if not 0 <= index < size <= len(self):
            raise ValueError(f"no leaf {index} in a tree of {size}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 6962 section 2.1.2."""
        new_size = len(self) if new_size is None else new_size
        if not 0 <= old_size <= new_size <= len(self):
            raise ValueError(f"cannot prove {old_size} against {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, new_size, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: is the leaf hash at ``index`` of the tree with ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree (old_size, old_root) a prefix of the tree
    (new_size, new_root)?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0
