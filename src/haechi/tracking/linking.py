"""Which media are "the same content": union-find over three kinds of evidence.

* exact bytes: media rows are keyed by SHA-256, so identical files already share a row;
* ``file_unique_id``: Telegram's id of a file, the same for every bot and every forward;
* PDQ distance <= 31 (quality >= 50): re-encoded, resized or recompressed variants.
  The near-duplicate search uses :class:`haechi.index.PdqIndex`, which is exact, so the
  clusters do not depend on the order media were ingested.
* vPDQ: two videos join when >= 80 % of one's frames lie within 31 of the other's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from haechi.index import PdqIndex
from haechi.signals.pdq import MIN_QUALITY
from haechi.signals.vpdq import parse_compact

PDQ_THRESHOLD = 31
VIDEO_MATCH_SHARE = 0.8


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        root = item
        while parent != root:
            root, parent = parent, self.parent[parent]
        while item != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        # The smaller id wins, so a cluster's id is its oldest medium.
        low, high = (ra, rb) if ra < rb else (rb, ra)
        self.parent[high] = low
        return True


@dataclass(slots=True)
class MediaFacts:
    id: int
    pdq: str | None = None
    pdq_quality: int | None = None
    vpdq: str | None = None
    file_unique_ids: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Clusters:
    #: media id -> cluster id (the smallest media id in the cluster).
    of: dict[int, int]
    #: cluster id -> the kinds of links that joined its members.
    linked_by: dict[int, set[str]]

    def members(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for media_id, cluster in self.of.items():
            groups[cluster].append(media_id)
        return {c: sorted(m) for c, m in groups.items()}


def cluster_media(media: Iterable[MediaFacts]) -> Clusters:
    uf = UnionFind()
    reasons: list[tuple[int, str]] = []
    by_fuid: dict[str, int] = {}
    pdq_ids: list[int] = []
    pdq_hashes: list[str] = []
    videos: list[MediaFacts] = []
    for m in media:
        uf.find(m.id)
        for fuid in m.file_unique_ids:
            first = by_fuid.setdefault(fuid, m.id)
            if first != m.id and uf.union(first, m.id):
                reasons.append((m.id, "file_unique_id"))
        if m.pdq and (m.pdq_quality or 0) >= MIN_QUALITY:
            pdq_ids.append(m.id)
            pdq_hashes.append(m.pdq)
        if m.vpdq:
            videos.append(m)
    if pdq_hashes:
        index = PdqIndex.build(pdq_hashes, pdq_ids)
        for media_id, found in zip(pdq_ids, index.query_many(pdq_hashes, PDQ_THRESHOLD),
                                   strict=True):
            for other, _distance in found:
                if other != media_id and uf.union(media_id, other):
                    reasons.append((media_id, f"pdq<={PDQ_THRESHOLD}"))
    _link_videos(uf, videos, reasons)
    of = {item: uf.find(item) for item in list(uf.parent)}
    linked: dict[int, set[str]] = defaultdict(set)
    for media_id, reason in reasons:
        linked[of[media_id]].add(reason)
    return Clusters(of=of, linked_by=dict(linked))


def _frames(vpdq: str) -> list[str]:
    """PDQ hashes of a compact vPDQ value's usable frames."""
    return [f.pdq for f in parse_compact(vpdq) if f.quality >= MIN_QUALITY]


def _link_videos(uf: UnionFind, videos: list[MediaFacts],
                 reasons: list[tuple[int, str]]) -> None:
    """Join videos sharing >= 80 % of their frames (by the smaller video's frames)."""
    if len(videos) < 2:
        return
    frame_ids: list[int] = []
    frame_hashes: list[str] = []
    counts: dict[int, int] = {}
    for video in videos:
        frames = _frames(video.vpdq or "")
        counts[video.id] = len(frames)
        frame_ids.extend([video.id] * len(frames))
        frame_hashes.extend(frames)
    if not frame_hashes:
        return
    index = PdqIndex.build(frame_hashes, frame_ids)
    matched: dict[tuple[int, int], int] = defaultdict(int)
    for owner, found in zip(frame_ids, index.query_many(frame_hashes, PDQ_THRESHOLD),
                            strict=True):
        for other, _distance in found:
            if other != owner:
                matched[(owner, other)] += 1
    for (owner, other), hits in matched.items():
        if counts[owner] and hits / counts[owner] >= VIDEO_MATCH_SHARE and uf.union(owner, other):
            reasons.append((owner, "vpdq"))
