"""Neutral test media generated in code: shapes, gradients, text and noise.

Nothing here is read from disk, so the repository never holds real photographs. Every
function is deterministic for a given ``seed``.

Import from tests with ``from fixtures_media import ...`` (pytest puts ``tests/`` on
``sys.path``); benchmarks add ``tests/`` to ``sys.path`` themselves.

Images
    :func:`make_image` a structured image (gradient background, large shapes, text) whose
    PDQ quality is high and whose hash is far from other seeds' hashes;
    :func:`make_photo` a photo-sized image with fine noise, for realistic decoding cost;
    :func:`encode` to bytes in JPEG, PNG, WebP, GIF, BMP, TIFF or AVIF.

Transforms (each returns a new RGB image)
    :func:`jpeg_recompress`, :func:`resize`, :func:`brighten`, :func:`mirror`,
    :func:`rotate90`, :func:`letterbox`.

Videos
    :func:`make_video` an encoded clip (MP4/H.264, MOV, WebM/VP9, MKV) whose scene changes
    every second, so every vPDQ sample differs; :func:`transcode_video` re-encodes one
    with another codec, bitrate or size.

Hostile inputs
    :func:`png_bomb_header`, :func:`gif_bomb_header`, :func:`webp_bomb_header`,
    :func:`tiff_bomb_header` small well-formed files that declare huge pixel counts.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

# SVT-AV1 prints its banner to stderr unless told otherwise (1 = errors only); read when
# the encoder starts, so setting it here is early enough.
os.environ.setdefault("SVT_LOG", "1")

__all__ = [
    "CONTAINERS",
    "IMAGE_FORMATS",
    "VIDEO_PRESETS",
    "brighten",
    "encode",
    "gif_bomb_header",
    "jpeg_recompress",
    "letterbox",
    "make_image",
    "make_photo",
    "make_video",
    "mirror",
    "png_bomb_header",
    "png_chunk",
    "resize",
    "rotate90",
    "tiff_bomb_header",
    "transcode_video",
    "video_frames",
    "webp_bomb_header",
]

#: Image formats :func:`encode` writes, by the name :func:`haechi.media.load_media` reports.
IMAGE_FORMATS = ("jpeg", "png", "webp", "gif", "bmp", "tiff", "avif")

_PIL_NAMES = {
    "jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF",
    "bmp": "BMP", "tiff": "TIFF", "tif": "TIFF", "avif": "AVIF",
}

#: FFmpeg muxer for each container name :func:`make_video` accepts.
CONTAINERS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}

#: A sensible (container, codec) pair per container, as used by the format tests.
VIDEO_PRESETS = {
    "mp4": "libx264",
    "mov": "libx264",
    "webm": "libvpx-vp9",
    "mkv": "libx264",
}


# -- images ----------------------------------------------------------------------------


#: Colour channels stay below this, so +30 % brightness does not clip (195 * 1.3 < 255):
#: clipping, not brightening, is what moves a PDQ hash.
_MAX_CHANNEL = 196


def _palette(rng: np.random.Generator, n: int) -> list[tuple[int, int, int]]:
    """``n`` colours alternating dark and light, so neighbouring shapes contrast."""
    half = _MAX_CHANNEL // 2
    out = []
    for i in range(n):
        low = 0 if i % 2 == 0 else _MAX_CHANNEL - half
        r, g, b = rng.integers(low, low + half, 3)
        out.append((int(r), int(g), int(b)))
    return out


def _gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A linear gradient in a random direction between two random colours."""
    angle = rng.uniform(0, 2 * np.pi)
    xs = np.linspace(0.0, np.cos(angle), width, dtype=np.float32)
    ys = np.linspace(0.0, np.sin(angle), height, dtype=np.float32)
    t = ys[:, None] + xs[None, :]
    t -= t.min()
    t *= 255.0 / max(float(t.max()), 1e-6)
    c0 = rng.integers(0, _MAX_CHANNEL, 3).astype(np.float32)
    c1 = rng.integers(0, _MAX_CHANNEL, 3).astype(np.float32)
    # 256 colour steps through a lookup table: fast at photo sizes.
    steps = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None]
    lut = (c0[None, :] * (1 - steps) + c1[None, :] * steps).round().astype(np.uint8)
    return lut[t.astype(np.uint8)]


def make_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A neutral RGB image of ``size`` = (width, height), unique to ``seed``.

    A gradient background in a random direction, a dozen large rectangles, ellipses and
    polygons in random colours, and a line of text. The shapes are large relative to the
    frame, so the image survives recompression and resizing with a stable PDQ hash, and
    PDQ quality is high (plenty of mid-frequency structure). Different seeds give hashes
    about 128 bits apart (at least 98 over seeds 0-79).

    Measured at 640x480 over 60 seeds, the PDQ distance to the original is at most 6 for
    JPEG quality 40, 12 for a 0.5x resize, 2 for +30 % brightness. Keep both sides of a
    resized copy above 128 px: below that PDQ's box filter is one pixel wide and aliases
    (a 320x240 image halved drifts by up to 34 bits).
    """
    width, height = size
    rng = np.random.default_rng(seed)
    img = Image.fromarray(_gradient(rng, width, height), "RGB")
    draw = ImageDraw.Draw(img)
    colours = _palette(rng, 16)
    scale = min(width, height)
    for i in range(12):
        kind = int(rng.integers(0, 3))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx = rng.uniform(0.08, 0.35) * scale
        ry = rng.uniform(0.08, 0.35) * scale
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        colour = colours[i % len(colours)]
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        else:
            pts = [
                (cx + rx * np.cos(a), cy + ry * np.sin(a))
                for a in np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 7))))
            ]
            draw.polygon(pts, fill=colour)
    font_size = max(10, scale // 8)
    font = ImageFont.load_default(size=font_size)
    text = f"HAECHI {seed}"
    draw.text((width * 0.05, height * 0.05), text, fill=colours[-1], font=font,
              stroke_width=max(1, font_size // 12), stroke_fill=colours[-2])
    return img


def make_photo(seed: int, size: tuple[int, int] = (1280, 960), noise: float = 12.0
               ) -> Image.Image:
    """A photo-sized neutral image: :func:`make_image` plus per-pixel noise.

    The noise gives JPEG files the size and decoding cost of a camera photo (entropy in
    every block) rather than the few kilobytes of flat synthetic shapes.
    """
    base = np.asarray(make_image(seed, size), dtype=np.int16)
    rng = np.random.default_rng(seed + 1_000_003)
    grain = rng.normal(0.0, noise, size=base.shape).astype(np.int16)
    return Image.fromarray((base + grain).clip(0, 255).astype(np.uint8), "RGB")


def encode(img: Image.Image, fmt: str, **opts: object) -> bytes:
    """Encode ``img`` as ``fmt`` (jpeg, png, webp, gif, bmp, tiff, avif); bytes out.

    ``opts`` go to :meth:`PIL.Image.Image.save` (``quality=``, ``lossless=``, ...). GIF is
    quantised to an adaptive 256-colour palette; JPEG defaults to quality 90.
    """
    name = _PIL_NAMES[fmt.lower()]
    if name == "JPEG":
        opts.setdefault("quality", 90)
    if name == "GIF" and img.mode not in ("P", "L"):
        img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    elif name != "GIF" and img.mode not in ("RGB", "L", "RGBA"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=name, **opts)
    return buf.getvalue()


# -- transforms --------------------------------------------------------------------------


def jpeg_recompress(img: Image.Image, quality: int = 40) -> Image.Image:
    """Encode as JPEG at ``quality`` and decode again."""
    with Image.open(io.BytesIO(encode(img, "jpeg", quality=quality))) as out:
        return out.convert("RGB")


def resize(img: Image.Image, factor: float = 0.5) -> Image.Image:
    """Scale both sides by ``factor`` (Lanczos)."""
    w, h = img.size
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return img.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def brighten(img: Image.Image, factor: float = 1.3) -> Image.Image:
    """Multiply brightness by ``factor`` (1.3 = +30 %)."""
    return ImageEnhance.Brightness(img.convert("RGB")).enhance(factor)


def mirror(img: Image.Image) -> Image.Image:
    """Flip left-right."""
    return ImageOps.mirror(img.convert("RGB"))


def rotate90(img: Image.Image, clockwise: bool = False) -> Image.Image:
    """Rotate by a quarter turn, counter-clockwise unless ``clockwise``."""
    op = Image.Transpose.ROTATE_270 if clockwise else Image.Transpose.ROTATE_90
    return img.convert("RGB").transpose(op)


def letterbox(img: Image.Image, border: float = 0.15, colour: tuple[int, int, int] = (0, 0, 0)
              ) -> Image.Image:
    """Add bars of ``border`` x height above and below, as a re-upload to 16:9 might."""
    w, h = img.size
    pad = max(1, round(h * border))
    out = Image.new("RGB", (w, h + 2 * pad), colour)
    out.paste(img.convert("RGB"), (0, pad))
    return out


# -- video -------------------------------------------------------------------------------


def _scene_frames(seed: int, seconds: float, fps: int, size: tuple[int, int]
                  ) -> Iterator[np.ndarray]:
    """A new :func:`make_image` scene every second, drifting a few pixels per frame."""
    total = max(1, round(seconds * fps))
    width, height = size
    scene: np.ndarray | None = None
    for i in range(total):
        second, offset = divmod(i, fps)
        if offset == 0 or scene is None:
            # Draw the scene larger than the frame so the pan never shows an edge.
            scene = np.asarray(make_image(seed * 10_007 + second, (width + fps * 2, height)))
        yield np.ascontiguousarray(scene[:, offset * 2: offset * 2 + width])


def _encode_frames(frames: Iterator[np.ndarray], *, fps: int, size: tuple[int, int],
                   codec: str, container: str, bitrate: int | None, options: dict[str, str],
                   container_options: dict[str, str] | None = None) -> bytes:
    fmt = CONTAINERS[container]
    width, height = size
    # A real file, not BytesIO: the MP4 muxer's faststart pass reopens its output by name.
    with tempfile.TemporaryDirectory(prefix="haechi-video-") as tmp:
        path = Path(tmp) / f"clip.{container}"
        _mux(path, frames, fmt=fmt, width=width, height=height, fps=fps, codec=codec,
             bitrate=bitrate, options=options, container_options=container_options)
        return path.read_bytes()


def _mux(path: Path, frames: Iterator[np.ndarray], *, fmt: str, width: int, height: int,
         fps: int, codec: str, bitrate: int | None, options: dict[str, str],
         container_options: dict[str, str] | None) -> None:
    with av.open(str(path), mode="w", format=fmt, options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if bitrate:
            stream.bit_rate = bitrate
        opts = dict(options)
        if codec == "libx264":
            opts.setdefault("preset", "ultrafast")
        elif codec == "libvpx-vp9":
            opts.setdefault("deadline", "realtime")
            opts.setdefault("cpu-used", "8")
        elif codec == "libsvtav1":
            opts.setdefault("preset", "10")
        stream.options = opts
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def make_video(seed: int, seconds: float = 3.0, fps: int = 10, size: tuple[int, int] = (160, 120),
               codec: str | None = None, container: str = "mp4", *, bitrate: int | None = None,
               options: dict[str, str] | None = None,
               container_options: dict[str, str] | None = None) -> bytes:
    """An encoded clip of ``seconds`` at ``fps`` and ``size`` = (width, height).

    ``container`` is one of mp4, mov, webm, mkv; ``codec`` an FFmpeg encoder (libx264,
    mpeg4, libvpx-vp9, libsvtav1), by default :data:`VIDEO_PRESETS` for the container.
    Sizes must be even (yuv420p). The scene changes each second, so one-per-second
    vPDQ samples are all different; another ``seed`` gives unrelated scenes.

    ``options`` go to the encoder (``{"crf": "35"}``), ``container_options`` to the muxer
    (``{"movflags": "faststart"}`` puts the MP4 index before the media data).
    """
    codec = codec or VIDEO_PRESETS[container]
    return _encode_frames(_scene_frames(seed, seconds, fps, size), fps=fps, size=size,
                          codec=codec, container=container, bitrate=bitrate,
                          options=options or {}, container_options=container_options)


def video_frames(data: bytes) -> Iterator[np.ndarray]:
    """Decode every frame of an encoded clip as an RGB array."""
    with av.open(io.BytesIO(data)) as src:
        for frame in src.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def transcode_video(data: bytes, codec: str = "libvpx-vp9", container: str = "webm", *,
                    size: tuple[int, int] | None = None, fps: int | None = None,
                    bitrate: int | None = None) -> bytes:
    """Re-encode ``data`` with another codec/container, optionally resized and at a bitrate."""
    with av.open(io.BytesIO(data)) as src:
        stream = src.streams.video[0]
        src_fps = round(float(stream.average_rate or 10))
        src_size = (stream.codec_context.width, stream.codec_context.height)
    out_size = size or src_size

    def frames() -> Iterator[np.ndarray]:
        for rgb in video_frames(data):
            if out_size != src_size:
                rgb = np.asarray(Image.fromarray(rgb).resize(out_size, Image.Resampling.BILINEAR))
            yield rgb

    return _encode_frames(frames(), fps=fps or src_fps, size=out_size, codec=codec,
                          container=container, bitrate=bitrate, options={})


# -- hostile inputs ----------------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_bomb_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny, well-formed PNG whose IHDR declares ``width`` x ``height`` RGB pixels.

    The IDAT holds a few compressed zero rows only; a decoder that trusts the header
    would allocate ``width * height * 3`` bytes (30 GB at the defaults).
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + width * 3) * 4, 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def gif_bomb_header(width: int = 65_535, height: int = 65_535,
                    screen: tuple[int, int] | None = None) -> bytes:
    """A tiny GIF89a whose first frame declares ``width`` x ``height``.

    The logical screen declares the same size unless ``screen`` gives another (a small
    screen with a huge frame: decoders grow the canvas to fit the frame). One 2-colour
    global palette and a minimal LZW stream (clear code, end code).
    """
    sw, sh = screen or (width, height)
    header = struct.pack("<HHBBB", sw, sh, 0x80, 0, 0)  # global colour table, 2 colours
    palette = b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    lzw = bytes([2, 1, 0x2C, 0])  # min code size 2; one sub-block: clear (4), end (5)
    return b"GIF89a" + header + palette + descriptor + lzw + b"\x3b"


def webp_bomb_header(width: int = 16_383, height: int = 16_383) -> bytes:
    """A 1x1 lossless WebP whose VP8L header is patched to declare ``width`` x ``height``.

    16383 is the format's maximum side; the file stays under 40 bytes.
    """
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (10, 200, 30)).save(buf, format="WEBP", lossless=True)
    data = buf.getvalue()
    at = data.index(b"VP8L") + 8
    if data[at] != 0x2F:
        raise ValueError("unexpected VP8L signature")
    (bits,) = struct.unpack("<I", data[at + 1: at + 5])
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    return data[: at + 1] + struct.pack("<I", bits) + data[at + 5:]


def tiff_bomb_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A little-endian, uncompressed 8-bit grey TIFF declaring ``width`` x ``height``.

    One strip of 16 zero bytes follows the IFD; the strip byte count is honest.
    """
    n_entries = 9
    data_offset = 8 + 2 + 12 * n_entries + 4

    def entry(tag: int, kind: int, value: int) -> bytes:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        return struct.pack("<HHI", tag, kind, 1) + packed

    ifd = struct.pack("<H", n_entries) + b"".join([
        entry(256, 4, width),        # ImageWidth
        entry(257, 4, height),       # ImageLength
        entry(258, 3, 8),            # BitsPerSample
        entry(259, 3, 1),            # Compression: none
        entry(262, 3, 1),            # PhotometricInterpretation: black is zero
        entry(273, 4, data_offset),  # StripOffsets
        entry(277, 3, 1),            # SamplesPerPixel
        entry(278, 4, height),       # RowsPerStrip
        entry(279, 4, 16),           # StripByteCounts
    ]) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0" * 16
