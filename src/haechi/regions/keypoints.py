"""Local features of an image's content box: ORB keypoints, kept compact for the bank.

Why keypoints: a crop, a small rotation, a mirrored crop or a sticker moves or hides
part of a picture, and every fixed window (the whole image, its quarters) then covers
different pixels. Corners and blobs stay where they are in the picture itself: most of
them survive every such edit, and a geometric check (``regions/verify.py``) confirms
that enough of them moved together as one picture would.

Both sides reduce the content box (borders, bars and interface chrome trimmed) to a
longer side of ``WORK_SIDE`` pixels first, so sizes agree and the cost is fixed; a
smaller upload is enlarged only to ``QUERY_MIN_SIDE`` (ORB's pyramid matches the
scales). ORB
(Rublee et al., 2011) is used through OpenCV: rotation-aware, binary (32 bytes per
point), licence-free and about 1-2 ms per image here.

What the bank keeps per entry (``to_bytes``): the points and descriptors of the image
as banked and of its mirror image, strongest first (about 18 KB). Both orientations'
strongest descriptors feed the word index, so a mirrored copy finds its entry, and the
check then runs against the mirror image's points: the upload is never detected twice.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from haechi.regions.content import Box

#: The content box is reduced (or enlarged) to this longer side before detection.
WORK_SIDE = 320
#: Work images narrower than this on either side get no keypoints.
MIN_SIDE = 32
#: Points kept per image, strongest first.
MAX_POINTS = 250
#: Points per orientation that go into the word index (the strongest).
INDEXED_POINTS = 64
DESCRIPTOR_BYTES = 32
#: Sub-pixel precision of stored coordinates (1/16 pixel, in uint16).
_COORD_SCALE = 16
_MAGIC = b"HKP2"
#: magic, points, mirror points, work width, work height, content box (4 ints).
_HEADER = struct.Struct("<4sHHHHiiii")

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Keypoints:
    """An image's keypoints in its content box's work copy.

    ``points`` are (x, y) in work pixels; ``content`` says where the work copy sits in
    the image (image pixels), so boxes can be given back in the image's own pixels.
    """

    points: F32
    descriptors: U8
    work_size: tuple[int, int]
    content: Box
    #: These points were found on the mirrored work copy (x runs right to left).
    mirrored: bool = False
    #: The mirror image's keypoints (bank side only).
    mirror: Keypoints | None = None

    def __len__(self) -> int:
        return int(self.descriptors.shape[0])

    def to_image_box(self, points: F32) -> tuple[int, int, int, int]:
        """The bounding box of ``points`` (work pixels) in the image's pixels."""
        x0, y0, x1, y1 = self.content
        sx = (x1 - x0) / max(1, self.work_size[0])
        sy = (y1 - y0) / max(1, self.work_size[1])
        lo, hi = points.min(axis=0), points.max(axis=0)
        if self.mirrored:
            lo[0], hi[0] = self.work_size[0] - hi[0], self.work_size[0] - lo[0]
        return (round(x0 + lo[0] * sx), round(y0 + lo[1] * sy),
                round(x0 + hi[0] * sx), round(y0 + hi[1] * sy))

    def to_bytes(self) -> bytes:
        mirror = self.mirror or Keypoints(np.zeros((0, 2), np.float32),
                                          np.zeros((0, DESCRIPTOR_BYTES), np.uint8),
                                          self.work_size, self.content, mirrored=True)
        header = _HEADER.pack(_MAGIC, len(self), len(mirror), *self.work_size, *self.content)
        return header + _pack(self) + _pack(mirror)

    @classmethod
    def from_bytes(cls, data: bytes) -> Keypoints:
        """Parse what ``to_bytes`` wrote; ValueError names what is wrong."""
        if len(data) < _HEADER.size:
            raise ValueError("keypoint record is truncated")
        magic, n, m, ww, wh, x0, y0, x1, y1 = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a keypoint record")
        expected = _HEADER.size + (n + m) * (4 + DESCRIPTOR_BYTES)
        if len(data) != expected:
            raise ValueError(f"keypoint record holds {len(data)} bytes, expected {expected}")
        content = (x0, y0, x1, y1)
        points, desc = _unpack(data, _HEADER.size, n)
        mpoints, mdesc = _unpack(data, _HEADER.size + n * (4 + DESCRIPTOR_BYTES), m)
        mirror = cls(mpoints, mdesc, (ww, wh), content, mirrored=True)
        return cls(points, desc, (ww, wh), content, mirror=mirror)

    def indexed(self) -> tuple[U8, U8]:
        """Descriptors that go into the word index: (as banked, mirrored)."""
        mirror = (self.mirror.descriptors if self.mirror is not None
                  else np.zeros((0, DESCRIPTOR_BYTES), np.uint8))
        return self.descriptors[:INDEXED_POINTS], mirror[:INDEXED_POINTS]


def _pack(keypoints: Keypoints) -> bytes:
    coords = np.clip(np.round(keypoints.points * _COORD_SCALE), 0, 65535).astype("<u2")
    return coords.tobytes() + np.ascontiguousarray(keypoints.descriptors).tobytes()


def _unpack(data: bytes, at: int, n: int) -> tuple[F32, U8]:
    coords = np.frombuffer(data, "<u2", n * 2, at).reshape(n, 2)
    desc = np.frombuffer(data, np.uint8, n * DESCRIPTOR_BYTES, at + n * 4).reshape(
        n, DESCRIPTOR_BYTES)
    return (coords / _COORD_SCALE).astype(np.float32), desc


#: Pyramid levels (scale step 1.2) of the bank's detection and of an upload's. The
#: bank's 8 levels span every scale a copy is likely to show; an upload needs fewer,
#: and detection is most of the layer's cost on every scan that matches nothing.
BANK_LEVELS = 8
QUERY_LEVELS = 6
#: An upload smaller than the work size is enlarged only to this longer side: a 200 px
#: upload is detected as it is (about 40 % of the pixels of the work size). Both
#: choices were measured together on the evasion benchmark: 0.3 points of recall for
#: about a tenth off the scan time of small uploads that match nothing.
QUERY_MIN_SIDE = 200

_orbs: dict[int, cv2.ORB] = {}


def _detector(levels: int) -> cv2.ORB:
    # One detector per setting and process: creating it costs more than a detection,
    # and OpenCV's detect is re-entrant for a shared ORB object.
    orb = _orbs.get(levels)
    if orb is None:
        # A small edge margin and FAST threshold: small images (200 px portraits) still
        # give points near their borders and in their smooth parts.
        orb = _orbs[levels] = cv2.ORB.create(
            nfeatures=MAX_POINTS, scaleFactor=1.2, nlevels=levels, edgeThreshold=15,
            patchSize=31, fastThreshold=10)
    return orb


def work_gray(rgb: np.ndarray, content: Box, *,
              min_side: int = WORK_SIDE) -> npt.NDArray[np.uint8]:
    """The content box of ``rgb`` in grey at the work size (a smaller box is enlarged
    to at least ``min_side``)."""
    x0, y0, x1, y1 = content
    patch = rgb[y0:y1, x0:x1]
    h, w = patch.shape[:2]
    if h < 1 or w < 1:
        return np.zeros((0, 0), np.uint8)
    side = max(h, w)
    scale = min(WORK_SIDE, max(side, min_side)) / side
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Resize the colour patch first: the grey conversion then runs on the small copy.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(patch), size, interpolation=interpolation)
    return np.asarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def detect(gray: npt.NDArray[np.uint8], *, levels: int = BANK_LEVELS) -> tuple[F32, U8]:
    """ORB points (strongest first) and descriptors of a grey work image. Slivers (a
    side under ``MIN_SIDE``) have none: ORB's pyramid cannot shrink them."""
    if gray.size == 0 or min(gray.shape[:2]) < MIN_SIDE:
        return np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    found, desc = _detector(levels).detectAndCompute(gray, None)
    if desc is None or not found:
        return np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    order = np.argsort([-k.response for k in found], kind="stable")
    points = np.array([found[i].pt for i in order], dtype=np.float32).reshape(-1, 2)
    return points, np.ascontiguousarray(desc[order], dtype=np.uint8)


def image_keypoints(rgb: np.ndarray, content: Box, *, bank: bool = False,
                    min_side: int = QUERY_MIN_SIDE) -> Keypoints:
    """Keypoints of ``rgb``'s content box; ``bank`` adds its mirror image's (and always
    works at ``WORK_SIDE``); an upload's box is enlarged to at least ``min_side``."""
    if bank:
        gray = work_gray(rgb, content)
        points, desc = detect(gray)
    else:
        gray = work_gray(rgb, content, min_side=min_side)
        points, desc = detect(gray, levels=QUERY_LEVELS)
    size = (gray.shape[1], gray.shape[0])
    mirror = None
    if bank:
        mpoints, mdesc = detect(np.ascontiguousarray(gray[:, ::-1]))
        mirror = Keypoints(mpoints, mdesc, size, content, mirrored=True)
    return Keypoints(points, desc, size, content, mirror=mirror)


def frame_keypoints(rgb: np.ndarray, content: Box) -> Keypoints:
    """Keypoints of one banked video frame's content box, at the bank's settings (a
    video's copies are re-encoded, cropped or framed: no mirror image is kept)."""
    gray = work_gray(rgb, content)
    points, desc = detect(gray)
    return Keypoints(points, desc, (gray.shape[1], gray.shape[0]), content)


#: Points per frame that go into the word index: a video entry posts all its frames'.
FRAME_INDEXED_POINTS = 32
_FRAMES_MAGIC = b"HKF1"
#: magic, frames; then per frame: timestamp (s), length of its keypoint record.
_FRAMES_HEADER = struct.Struct("<4sH")
_FRAME_HEADER = struct.Struct("<fI")


@dataclass(frozen=True)
class FrameKeypoints:
    """A banked video's keypoints: those of a few frames spread over it."""

    frames: tuple[Keypoints, ...]
    timestamps: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.frames)

    def to_bytes(self) -> bytes:
        parts = [_FRAMES_HEADER.pack(_FRAMES_MAGIC, len(self.frames))]
        for timestamp, frame in zip(self.timestamps, self.frames, strict=True):
            data = frame.to_bytes()
            parts += [_FRAME_HEADER.pack(timestamp, len(data)), data]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> FrameKeypoints:
        """Parse what ``to_bytes`` wrote; ValueError names what is wrong."""
        if len(data) < _FRAMES_HEADER.size:
            raise ValueError("frame keypoint record is truncated")
        magic, count = _FRAMES_HEADER.unpack_from(data)
        if magic != _FRAMES_MAGIC:
            raise ValueError("not a frame keypoint record")
        at = _FRAMES_HEADER.size
        frames: list[Keypoints] = []
        timestamps: list[float] = []
        for _ in range(count):
            if len(data) < at + _FRAME_HEADER.size:
                raise ValueError("frame keypoint record is truncated")
            timestamp, size = _FRAME_HEADER.unpack_from(data, at)
            at += _FRAME_HEADER.size
            if len(data) < at + size:
                raise ValueError("frame keypoint record is truncated")
            if not np.isfinite(timestamp):
                raise ValueError("frame keypoint record has a bad timestamp")
            frames.append(Keypoints.from_bytes(data[at:at + size]))
            timestamps.append(round(float(timestamp), 3))
            at += size
        if at != len(data):
            raise ValueError("frame keypoint record has bytes after its last frame")
        return cls(tuple(frames), tuple(timestamps))

    def indexed(self) -> tuple[U8, U8]:
        """Descriptors for the word index: every frame's strongest, and no mirror."""
        parts = [frame.descriptors[:FRAME_INDEXED_POINTS] for frame in self.frames]
        empty = np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
        return (np.concatenate(parts) if parts else empty), empty


def read_record(data: bytes) -> Keypoints | FrameKeypoints:
    """A stored keypoint record: an image's or a video's frames'."""
    if data[:4] == _FRAMES_MAGIC:
        return FrameKeypoints.from_bytes(data)
    return Keypoints.from_bytes(data)
