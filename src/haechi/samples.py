"""Neutral sample images drawn in code, for the demo and for tests.

Shapes, gradients and text only: the repository never holds real or sexual imagery.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance, ImageOps


def make_image(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A colourful, high-PDQ-quality picture; different seeds give unrelated pictures."""
    rng = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    c1 = tuple(rng.randrange(256) for _ in range(3))
    c2 = tuple(rng.randrange(256) for _ in range(3))
    for y in range(h):  # vertical gradient background
        t = y / max(1, h - 1)
        draw.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(c1, c2,
                                                                                    strict=True)))
    for _ in range(rng.randrange(6, 14)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randrange(w // 8, w // 2), y0 + rng.randrange(h // 8, h // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(("ellipse", "rectangle", "polygon"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            pts = [(rng.randrange(w), rng.randrange(h)) for _ in range(rng.randrange(3, 7))]
            draw.polygon(pts, fill=colour)
    draw.text((rng.randrange(w // 2), rng.randrange(h // 2)), f"sample {seed}", fill=(0, 0, 0))
    return img


def encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


#: Re-upload edits that whole-image PDQ is expected to survive.
def variants(img: Image.Image) -> dict[str, Image.Image]:
    w, h = img.size
    return {
        "recompressed": Image.open(io.BytesIO(encode(img, "JPEG", quality=35))).convert("RGB"),
        "resized": img.resize((w // 2, h // 2)),
        "brightened": ImageEnhance.Brightness(img).enhance(1.3),
        "mirrored": ImageOps.mirror(img),
        "rotated": img.rotate(90, expand=True),
    }
