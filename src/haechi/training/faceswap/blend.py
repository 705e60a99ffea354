"""Pseudo-fakes for face-swap training: self-blended images and two-face swaps.

A self-blended image (Shiohara & Yamasaki, CVPR 2022) pastes a face onto itself: the
source and target are the same photo under different colour, sharpness and geometry
transforms, joined through a soft, irregular face mask. What is left is exactly what
every face swap leaves behind (a blending boundary, a colour or sharpness mismatch, a
slight misalignment) with no identity cue the detector could learn instead. Written
from the paper's description; numpy and Pillow only, so tests and evaluation can make
the same images without torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

#: The blend ratios of the paper; full-strength blends are drawn more often.
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)

Landmarks = Sequence[tuple[float, float]]


def _geometry(landmarks: Landmarks) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Eye midpoint, unit vector along the eyes, eye-to-nose vector, eye distance (dlib's
    5-point model: two corners per eye, then the base of the nose)."""
    p = np.asarray(landmarks, dtype=np.float64)
    eye_a, eye_b, nose = p[0:2].mean(axis=0), p[2:4].mean(axis=0), p[4]
    mid = (eye_a + eye_b) / 2
    along = eye_a - eye_b
    distance = float(np.linalg.norm(along)) or 1.0
    return mid, along / distance, nose - mid, distance


def face_outline(landmarks: Landmarks, rng: np.random.Generator | None = None) -> np.ndarray:
    """Points around the face (brows, temples, cheeks, jaw, chin) placed from the 5
    landmarks by typical proportions; ``rng`` jitters each point and the overall size."""
    mid, along, down, d = _geometry(landmarks)
    # (sideways in eye distances, downwards in eye-to-nose lengths)
    shape = [(0.0, -0.55), (0.7, -0.45), (0.95, 0.1), (0.9, 1.1), (0.65, 1.85), (0.0, 2.2),
             (-0.65, 1.85), (-0.9, 1.1), (-0.95, 0.1), (-0.7, -0.45)]
    points = np.array([mid + s * d * along + v * down for s, v in shape])
    if rng is not None:
        centre = mid + 0.8 * down
        points = centre + (points - centre) * rng.uniform(0.8, 1.1)
        points += rng.normal(0.0, 0.05 * d, points.shape)
    return points


def face_mask(size: tuple[int, int], landmarks: Landmarks,
              rng: np.random.Generator) -> np.ndarray:
    """A soft blending mask ``(H, W) float32`` in 0..1: a face hull or an ellipse fitted to
    it, elastically deformed, eroded or dilated, then blurred."""
    w, h = size
    points = face_outline(landmarks, rng)
    image = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(image)
    if rng.random() < 0.5:
        draw.polygon([(float(x), float(y)) for x, y in points], fill=255)
    else:
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        draw.ellipse([float(x0), float(y0), float(x1), float(y1)], fill=255)
    mask = _elastic(np.asarray(image, dtype=np.float32) / 255.0, rng)
    _, _, _, d = _geometry(landmarks)
    # Erode or dilate: blur, then cut above or below the middle (cheaper than a rank
    # filter, and it rounds corners the way a real mask's edge would be).
    soft = Image.fromarray((mask * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(float(rng.uniform(0.02, 0.08) * d)))
    cut = float(rng.uniform(0.25, 0.75)) * 255
    image = Image.fromarray(np.where(np.asarray(soft) > cut, 255, 0).astype(np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.04, 0.15) * d)))
    return np.asarray(image, dtype=np.float32) / 255.0


def _elastic(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Warp by a smooth random displacement field (coarse noise, bicubically upsampled)."""
    h, w = mask.shape
    amplitude = rng.uniform(0.0, 0.04) * max(h, w)
    fields = []
    for _ in range(2):
        coarse = rng.normal(0.0, 1.0, (5, 5)).astype(np.float32)
        fields.append(np.asarray(Image.fromarray(coarse, mode="F").resize((w, h),
                                 Image.Resampling.BICUBIC)) * amplitude)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return _sample(mask, xs + fields[0], ys + fields[1])


def _sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear sampling of a 2-D array at float coordinates, clamped at the edges."""
    h, w = image.shape
    xs, ys = np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = xs - x0, ys - y0
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float32)


def _jitter_colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    arr = np.asarray(image, dtype=np.float32)
    arr = arr + rng.uniform(-18, 18, 3).astype(np.float32)  # per-channel (RGB) shift
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    hsv = np.asarray(image.convert("HSV"), dtype=np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(rng.integers(-6, 7))) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] + int(rng.integers(-20, 21)), 0, 255)
    image = Image.fromarray(hsv.astype(np.uint8), mode="HSV").convert("RGB")
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.88, 1.12)))
    return ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.88, 1.12)))


def _jitter_frequency(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    choice = rng.integers(0, 3)
    if choice == 0:
        return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.2))))
    if choice == 1:
        w, h = image.size
        f = float(rng.uniform(0.5, 0.85))
        small = image.resize((max(1, round(w * f)), max(1, round(h * f))),
                             Image.Resampling.BILINEAR)
        return small.resize((w, h), Image.Resampling.BILINEAR)
    return image.filter(ImageFilter.UnsharpMask(radius=2, percent=int(rng.integers(40, 120)),
                                                threshold=0))


def _shift_and_scale(image: Image.Image, landmarks: Landmarks,
                     rng: np.random.Generator) -> Image.Image:
    """Resize the source slightly (each axis on its own) and move it a few pixels,
    keeping the face centre roughly in place: the misalignment of a pasted face."""
    _, _, _, d = _geometry(landmarks)
    cx, cy = np.asarray(landmarks, dtype=np.float64).mean(axis=0)
    sx, sy = rng.uniform(0.94, 1.06, 2)
    tx, ty = rng.uniform(-0.05, 0.05, 2) * d
    # PIL's affine maps output to input: x_in = a*x + b*y + c
    coeffs = (1 / sx, 0.0, cx - (cx + tx) / sx, 0.0, 1 / sy, cy - (cy + ty) / sy)
    return image.transform(image.size, Image.Transform.AFFINE, coeffs,
                           Image.Resampling.BILINEAR)


def self_blend(rgb: np.ndarray, landmarks: Landmarks,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One self-blended pseudo-fake of ``rgb`` ``(H, W, 3) uint8`` and the effective blend
    weight ``(H, W) float32`` per pixel (mask times ratio)."""
    base = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    source, target = base, base
    # The paper transforms either image; transforming the target instead of the source
    # changes the surroundings and keeps the face, so both kinds of mismatch are seen.
    if rng.random() < 0.5:
        source = _jitter_colour(source, rng)
    else:
        target = _jitter_colour(target, rng)
    if rng.random() < 0.7:
        source = _jitter_frequency(source, rng)
    source = _shift_and_scale(source, landmarks, rng)
    weight = face_mask(base.size, landmarks, rng) * float(rng.choice(BLEND_RATIOS))
    return _blend(np.asarray(source), np.asarray(target), weight), weight


def _blend(source: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    w = weight[..., None]
    out = source.astype(np.float32) * w + target.astype(np.float32) * (1 - w)
    return np.asarray(np.clip(np.rint(out), 0, 255), dtype=np.uint8)


def swap_faces(face_of: np.ndarray, face_landmarks: Landmarks, onto: np.ndarray,
               onto_landmarks: Landmarks, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A classic face swap of two different people: ``face_of``'s face is warped onto
    ``onto``'s landmarks, its colour matched to the target face, and pasted through a soft
    face mask. Returns the image and the blend weight."""
    rng = np.random.default_rng(seed)
    src = np.asarray(face_landmarks, dtype=np.float64)
    dst = np.asarray(onto_landmarks, dtype=np.float64)
    # A similarity transform (least squares) from target points to source points.
    a = np.zeros((2 * len(dst), 4))
    a[0::2] = np.c_[dst[:, 0], -dst[:, 1], np.ones(len(dst)), np.zeros(len(dst))]
    a[1::2] = np.c_[dst[:, 1], dst[:, 0], np.zeros(len(dst)), np.ones(len(dst))]
    (p, q, tx, ty), *_ = np.linalg.lstsq(a, src.reshape(-1), rcond=None)
    h, w = onto.shape[:2]
    warped = np.asarray(Image.fromarray(np.ascontiguousarray(face_of, dtype=np.uint8)).transform(
        (w, h), Image.Transform.AFFINE, (p, -q, tx, q, p, ty), Image.Resampling.BILINEAR))
    weight = face_mask((w, h), onto_landmarks, rng)
    inside = weight > 0.5
    if inside.any():
        shift = (onto[inside].astype(np.float32).mean(axis=0)
                 - warped[inside].astype(np.float32).mean(axis=0))
        warped = np.clip(warped.astype(np.float32) + shift, 0, 255).astype(np.uint8)
    return _blend(warped, onto, weight), weight
