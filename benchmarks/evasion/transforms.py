"""Edits that defeat whole-image perceptual hashes, each deterministic for a seed.

Every transform takes a PIL RGB image and a ``random.Random`` and returns a new RGB
image. ``TRANSFORMS`` names them; the benchmark applies each to every banked image.
Stickers are drawn shapes (emoji-like faces, stars, hearts), captions are real text on a
solid bar, screenshots put the picture in a phone screen with status, app and
navigation bars.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont

Transform = Callable[[Image.Image, random.Random], Image.Image]

_WORDS = ("look at this", "lol", "new one", "part 2", "who is she", "link in bio",
          "repost", "omg", "full set", "dm me")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def crop(img: Image.Image, rng: random.Random) -> Image.Image:
    """Remove 5-20 % of the width and of the height, split at random between the sides."""
    w, h = img.size
    fx, fy = rng.uniform(0.05, 0.20), rng.uniform(0.05, 0.20)
    lx, ty = rng.uniform(0, fx), rng.uniform(0, fy)
    box = (round(lx * w), round(ty * h), round((1 - fx + lx) * w), round((1 - fy + ty) * h))
    return img.crop(box)


def letterbox(img: Image.Image, rng: random.Random) -> Image.Image:
    """Black (or dark) bars above and below: the picture in a 9:16 or 4:5 frame."""
    w, h = img.size
    ratio = rng.choice((16 / 9, 5 / 4, 1.5))
    out_h = max(h + 8, round(w * ratio))
    colour = rng.choice(((0, 0, 0), (16, 16, 16), (255, 255, 255)))
    canvas = Image.new("RGB", (w, out_h), colour)
    canvas.paste(img, (0, (out_h - h) // 2))
    return canvas


def pillarbox(img: Image.Image, rng: random.Random) -> Image.Image:
    """Bars left and right: the picture in a 16:9 frame, or blurred-free padding."""
    w, h = img.size
    out_w = max(w + 8, round(h * rng.choice((16 / 9, 4 / 3, 2.0))))
    colour = rng.choice(((0, 0, 0), (32, 32, 32), (240, 240, 240)))
    canvas = Image.new("RGB", (out_w, h), colour)
    canvas.paste(img, ((out_w - w) // 2, 0))
    return canvas


def border(img: Image.Image, rng: random.Random) -> Image.Image:
    """A solid frame of 3-10 % on every side."""
    w, h = img.size
    pad = round(max(w, h) * rng.uniform(0.03, 0.10))
    colour = tuple(rng.randrange(256) for _ in range(3))
    canvas = Image.new("RGB", (w + 2 * pad, h + 2 * pad), colour)
    canvas.paste(img, (pad, pad))
    return canvas


def _caption(img: Image.Image, rng: random.Random, *, top: bool) -> Image.Image:
    w, h = img.size
    bar = round(h * rng.uniform(0.12, 0.22))
    colour, ink = rng.choice((((255, 255, 255), (0, 0, 0)), ((0, 0, 0), (255, 255, 255)),
                              ((250, 220, 40), (20, 20, 20))))
    canvas = Image.new("RGB", (w, h + bar), colour)
    canvas.paste(img, (0, bar if top else 0))
    draw = ImageDraw.Draw(canvas)
    text = rng.choice(_WORDS)
    font = _font(max(10, round(bar * 0.5)))
    y = (bar - bar * 0.5) / 2 if top else h + (bar - bar * 0.5) / 2
    draw.text((w * rng.uniform(0.04, 0.3), y), text, fill=ink, font=font)
    return canvas


def caption_top(img: Image.Image, rng: random.Random) -> Image.Image:
    """A text bar of 12-22 % of the height added above."""
    return _caption(img, rng, top=True)


def caption_bottom(img: Image.Image, rng: random.Random) -> Image.Image:
    """A text bar of 12-22 % of the height added below."""
    return _caption(img, rng, top=False)


def sticker(img: Image.Image, rng: random.Random) -> Image.Image:
    """One or two emoji-like shapes covering 5-15 % of the picture in all."""
    out = img.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    area = rng.uniform(0.05, 0.15) * w * h
    count = rng.choice((1, 2))
    for _ in range(count):
        side = math.sqrt(area / count / (math.pi / 4))
        x = rng.uniform(0, w - side)
        y = rng.uniform(0, h - side)
        kind = rng.choice(("smiley", "star", "heart"))
        fill = rng.choice(((255, 204, 0), (255, 80, 120), (80, 200, 255)))
        if kind == "smiley":
            draw.ellipse((x, y, x + side, y + side), fill=fill, outline=(0, 0, 0),
                         width=max(1, round(side / 30)))
            e = side / 8
            for ex in (x + side * 0.32, x + side * 0.68):
                draw.ellipse((ex - e / 2, y + side * 0.3, ex + e / 2, y + side * 0.3 + e * 1.5),
                             fill=(0, 0, 0))
            draw.arc((x + side * 0.25, y + side * 0.35, x + side * 0.75, y + side * 0.8),
                     20, 160, fill=(0, 0, 0), width=max(1, round(side / 20)))
        elif kind == "star":
            cx, cy, r = x + side / 2, y + side / 2, side / 2
            pts = [(cx + (r if i % 2 == 0 else r * 0.45) * math.cos(math.pi / 2 + i * math.pi / 5),
                    cy - (r if i % 2 == 0 else r * 0.45) * math.sin(math.pi / 2 + i * math.pi / 5))
                   for i in range(10)]
            draw.polygon(pts, fill=fill)
        else:
            r = side / 4
            draw.ellipse((x, y, x + 2 * r, y + 2 * r), fill=fill)
            draw.ellipse((x + 2 * r, y, x + 4 * r, y + 2 * r), fill=fill)
            draw.polygon([(x, y + r * 1.2), (x + 4 * r, y + r * 1.2), (x + 2 * r, y + side)],
                         fill=fill)
    return out


def screenshot(img: Image.Image, rng: random.Random) -> Image.Image:
    """The picture on a phone screen: status bar, app bar, caption line, navigation bar,
    then the screenshot rescaled as apps do when it is shared."""
    screen_w = rng.choice((720, 1080))
    screen_h = round(screen_w * rng.choice((19.5 / 9, 16 / 9, 20 / 9)))
    dark = rng.random() < 0.5
    bg = (0, 0, 0) if dark else (255, 255, 255)
    ink = (255, 255, 255) if dark else (0, 0, 0)
    canvas = Image.new("RGB", (screen_w, screen_h), bg)
    draw = ImageDraw.Draw(canvas)
    unit = screen_w / 20
    status = round(unit * 1.3)
    draw.text((unit, status * 0.2), "9:41", fill=ink, font=_font(round(status * 0.6)))
    for i in range(3):
        draw.rectangle((screen_w - unit * (2 + 1.2 * i), status * 0.3,
                        screen_w - unit * (1.3 + 1.2 * i), status * 0.75), fill=ink)
    app = round(unit * 2.4)
    bar_colour = rng.choice(((36, 37, 41), (245, 245, 245), (30, 80, 160)))
    draw.rectangle((0, status, screen_w, status + app), fill=bar_colour)
    draw.ellipse((unit * 0.6, status + app * 0.2, unit * 0.6 + app * 0.6, status + app * 0.8),
                 fill=(180, 180, 180))
    draw.text((unit * 2.2, status + app * 0.25), "channel", fill=(255, 255, 255)
              if sum(bar_colour) < 380 else (0, 0, 0), font=_font(round(app * 0.4)))
    w, h = img.size
    pic_h = round(h * screen_w / w)
    top = status + app + round(unit * rng.uniform(0.2, 1.5))
    if top + pic_h > screen_h - unit * 3:
        pic_h = round(screen_h - unit * 3 - top)
        pic_w = round(w * pic_h / h)
        pic = img.resize((pic_w, pic_h), Image.Resampling.LANCZOS)
        canvas.paste(pic, ((screen_w - pic_w) // 2, top))
    else:
        canvas.paste(img.resize((screen_w, pic_h), Image.Resampling.LANCZOS), (0, top))
    draw.text((unit, top + pic_h + unit * 0.4), rng.choice(_WORDS), fill=ink,
              font=_font(round(unit * 0.8)))
    nav = round(unit * 2)
    draw.rectangle((0, screen_h - nav, screen_w, screen_h), fill=bar_colour)
    shot = canvas.resize((round(screen_w * 0.5), round(screen_h * 0.5)), Image.Resampling.BILINEAR)
    return _jpeg(shot, 80)


def rotate(img: Image.Image, rng: random.Random) -> Image.Image:
    """Rotate by 1-5 degrees either way and crop to the largest upright box inside."""
    angle = rng.uniform(1.0, 5.0) * rng.choice((-1, 1))
    w, h = img.size
    rotated = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    a = math.radians(abs(angle))
    # The largest axis-aligned box of the same aspect inside the rotated frame.
    scale = 1 / (math.cos(a) + max(w / h, h / w) * math.sin(a))
    cw, ch = w * scale, h * scale
    return rotated.crop((round((w - cw) / 2), round((h - ch) / 2),
                         round((w + cw) / 2), round((h + ch) / 2)))


def mirror_crop(img: Image.Image, rng: random.Random) -> Image.Image:
    """Mirror left to right, then crop 5-20 %."""
    return crop(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), rng)


def recompress_chain(img: Image.Image, rng: random.Random) -> Image.Image:
    """Three rounds of JPEG at quality 45-80 with rescaling by 0.4-1.5 in between."""
    out = img
    w, h = img.size
    for _ in range(3):
        s = rng.uniform(0.4, 1.5)
        out = out.resize((max(32, round(w * s)), max(32, round(h * s))), Image.Resampling.BILINEAR)
        out = _jpeg(out, rng.randint(45, 80))
    return out


TRANSFORMS: dict[str, Transform] = {
    "crop": crop,
    "letterbox": letterbox,
    "pillarbox": pillarbox,
    "border": border,
    "caption_top": caption_top,
    "caption_bottom": caption_bottom,
    "sticker": sticker,
    "screenshot": screenshot,
    "rotate": rotate,
    "mirror_crop": mirror_crop,
    "recompress_chain": recompress_chain,
}


def apply(name: str, img: Image.Image, seed: int) -> Image.Image:
    """Apply one named transform, then a JPEG save as any re-post gets."""
    rng = random.Random(f"{name}:{seed}")
    return _jpeg(TRANSFORMS[name](img.convert("RGB"), rng), rng.randint(70, 92))
