"""Intake: every supported format decodes, and every hostile file gets its exact error code.

The codes are a public contract (the CLI prints them, the API returns them, batch jobs
record them per item), so each case below pins the one our code gives.
"""

from __future__ import annotations

import io
import resource
import zipfile
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageFile, TiffImagePlugin, WebPImagePlugin

from fixtures_media import (
    IMAGE_FORMATS,
    encode,
    gif_bomb_header,
    make_image,
    make_photo,
    make_video,
    png_bomb_header,
    tiff_bomb_header,
    webp_bomb_header,
)
from haechi.errors import MediaError
from haechi.media import Limits, Media, MediaKind, load_media
from haechi.signals import all_signals

SIZE = (320, 240)  # not square, so a swapped width and height shows


@cache
def image_bytes(fmt: str, seed: int = 1) -> bytes:
    return encode(make_image(seed, SIZE), fmt)


@cache
def video_bytes(container: str, codec: str | None = None, seconds: float = 3.0,
                faststart: bool = False) -> bytes:
    opts = {"movflags": "faststart"} if faststart else None
    return make_video(3, seconds=seconds, fps=10, size=(160, 120), codec=codec,
                      container=container, container_options=opts)


def error_code(data: bytes, *, name: str | None = None, limits: Limits | None = None,
               decode_frames: bool = True) -> str:
    """``"ok"`` or the MediaError code; videos are decoded through to the last frame."""
    try:
        media = load_media(data, name=name, limits=limits)
        if decode_frames and media.kind is MediaKind.VIDEO:
            for _ in media.frames():
                pass
    except MediaError as exc:
        assert exc.message, "every error carries a message for people"
        return exc.code
    return "ok"


def corrupt(data: bytes, start: int, length: int, seed: int) -> bytes:
    """Overwrite ``length`` bytes from ``start`` with seeded random bytes."""
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    out[start:start + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    return bytes(out)


# -- formats that must decode ------------------------------------------------------------


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_image_formats_decode(fmt: str) -> None:
    media = load_media(image_bytes(fmt), name=f"upload.{fmt}")
    assert media.kind is MediaKind.IMAGE
    assert media.format == fmt
    assert (media.width, media.height) == SIZE
    assert media.warnings == []
    assert media.rgb.shape == (SIZE[1], SIZE[0], 3)
    assert media.rgb.dtype == np.uint8


def test_heic_decodes_with_the_optional_extra() -> None:
    pillow_heif = pytest.importorskip("pillow_heif", reason="HEIC needs the 'heic' extra")
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    make_image(1, SIZE).save(buf, format="HEIF")
    media = load_media(buf.getvalue(), name="photo.heic")
    assert (media.kind, media.format, media.width, media.height) == (
        MediaKind.IMAGE, "heic", *SIZE)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_image_modes_become_rgb(mode: str) -> None:
    img = make_image(2, SIZE)
    img = img.convert("I;16") if mode == "I;16" else img.convert(mode)
    fmt = {"CMYK": "jpeg", "I;16": "png"}.get(mode, "png")
    media = load_media(encode(img, fmt))
    assert media.rgb.shape == (SIZE[1], SIZE[0], 3)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    media = load_media(encode(make_image(3, SIZE), "jpeg", exif=exif))
    assert (media.width, media.height) == (SIZE[1], SIZE[0])
    assert media.rgb.shape == (SIZE[0], SIZE[1], 3)


def test_animated_gif_hashes_the_first_frame_with_a_warning() -> None:
    first, second = make_image(4, SIZE), make_image(5, SIZE)
    data = encode(first, "gif", save_all=True, append_images=[second.convert("P")])
    media = load_media(data)
    assert media.format == "gif"
    assert "animated: hashed the first frame" in media.warnings
    single = load_media(encode(first, "gif"))
    assert np.array_equal(media.rgb, single.rgb)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
@pytest.mark.parametrize("size", [(2400, 1800), (1100, 2100)])
def test_large_images_report_their_declared_size(fmt: str, size: tuple[int, int]) -> None:
    """Large pictures may be hashed at a reduced working size; what is reported stays the
    file's own size, and the working copy keeps the aspect and a short side PDQ can use."""
    media = load_media(encode(make_photo(1, size), fmt))
    assert (media.width, media.height) == size
    h, w = media.rgb.shape[:2]
    assert min(w, h) >= Limits().working_short_side
    assert w / h == pytest.approx(size[0] / size[1], rel=0.01)
    assert media.working_size == (w, h)


def test_large_exif_rotated_jpeg() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    media = load_media(encode(make_photo(2, (2400, 1600)), "jpeg", exif=exif))
    assert (media.width, media.height) == (1600, 2400)
    h, w = media.rgb.shape[:2]
    assert h > w, "the working copy is upright too"


def test_full_resolution_when_working_size_is_off() -> None:
    data = encode(make_photo(3, (2400, 1600)), "jpeg")
    media = load_media(data, limits=Limits(working_short_side=0))
    assert media.rgb.shape == (1600, 2400, 3)


@pytest.mark.parametrize(
    ("container", "codec"),
    [
        ("mp4", None),
        ("mov", None),
        ("webm", None),
        ("mkv", None),
        ("mp4", "mpeg4"),
        ("mkv", "libvpx-vp9"),
        ("mkv", "libsvtav1"),
    ],
)
def test_video_formats_decode(container: str, codec: str | None) -> None:
    media = load_media(video_bytes(container, codec), name=f"clip.{container}")
    assert media.kind is MediaKind.VIDEO
    assert media.format == container
    assert (media.width, media.height) == (160, 120)
    assert media.duration_s == pytest.approx(3.0, abs=0.15)
    assert media.frame_rate == pytest.approx(10.0)
    assert media.warnings == []
    frames = list(media.frames())
    assert [round(f.timestamp) for f in frames] == [0, 1, 2]
    assert all(f.rgb.shape == (120, 160, 3) for f in frames)


def test_wrong_media_kind() -> None:
    image = load_media(image_bytes("png"))
    video = load_media(video_bytes("mp4"))
    with pytest.raises(MediaError) as exc:
        image.frames()
    assert exc.value.code == "wrong_media_kind"
    with pytest.raises(MediaError) as exc:
        _ = video.rgb
    assert exc.value.code == "wrong_media_kind"


# -- names are reported, never trusted -----------------------------------------------------


@pytest.mark.parametrize(
    ("data_fmt", "name", "claimed"),
    [
        ("png", "holiday.jpg", "jpeg"),
        ("jpeg", "holiday.png", "png"),
        ("webp", "holiday.gif", "gif"),
        ("mp4", "holiday.jpg", "jpeg"),
        ("jpeg", "clip.mp4", "mp4"),
        ("webm", "clip.mkv", "mkv"),
    ],
)
def test_name_content_mismatch_is_processed_by_content(data_fmt: str, name: str,
                                                       claimed: str) -> None:
    data = video_bytes(data_fmt) if data_fmt in ("mp4", "webm") else image_bytes(data_fmt)
    media = load_media(data, name=name)
    assert media.format == data_fmt
    assert media.name == name
    assert f"extension_mismatch: named as {claimed}, content is {data_fmt}" in media.warnings
    honest = load_media(data, name=f"file.{data_fmt}")
    assert (media.kind, media.width, media.height) == (honest.kind, honest.width, honest.height)


@pytest.mark.parametrize("name", [None, "noextension", "UPPER.JPG", "x.jpe", "x.jfif",
                                  "archive.tar.jpeg", "x.unknownext"])
def test_no_mismatch_warning_for_matching_or_unknown_names(name: str | None) -> None:
    assert load_media(image_bytes("jpeg"), name=name).warnings == []


def test_mp4_and_mov_are_interchangeable_names() -> None:
    assert load_media(video_bytes("mp4"), name="clip.mov").warnings == []
    assert load_media(video_bytes("mov"), name="clip.mp4").warnings == []


# -- hostile and broken inputs -------------------------------------------------------------


def test_empty_file() -> None:
    assert error_code(b"") == "empty_file"
    assert error_code(b"", name="photo.jpg") == "empty_file"


def test_too_large_is_checked_before_anything_else() -> None:
    data = image_bytes("jpeg")
    assert error_code(data, limits=Limits(max_bytes=len(data))) == "ok"
    assert error_code(data, limits=Limits(max_bytes=len(data) - 1)) == "too_large"
    # Not even sniffed: an oversized unknown blob is too_large, not unsupported_format.
    assert error_code(b"\0" * 101, limits=Limits(max_bytes=100)) == "too_large"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "neutral text")
    return buf.getvalue()


UNSUPPORTED: dict[str, Callable[[], bytes]] = {
    "random": lambda: np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes(),
    "text": lambda: b"just some text\n" * 50,
    "utf16 text": lambda: "neutral text".encode("utf-16"),
    "html": lambda: b"<!DOCTYPE html><html><body>hi</body></html>",
    "svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "pdf": lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    "zip": _zip,
    "gzip": lambda: b"\x1f\x8b\x08\x00" + b"\0" * 64,
    "elf": lambda: b"\x7fELF\x02\x01\x01" + b"\0" * 64,
    "one byte": lambda: b"\xff",
    "jpeg magic too short": lambda: b"\xff\xd8",
    "nul bytes": lambda: b"\0" * 1024,
}


@pytest.mark.parametrize("kind", list(UNSUPPORTED))
def test_unsupported_formats(kind: str) -> None:
    assert error_code(UNSUPPORTED[kind](), name="photo.jpg") == "unsupported_format"


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_truncated_jpeg_and_png(fmt: str, fraction: float) -> None:
    data = image_bytes(fmt)
    assert error_code(data[: int(len(data) * fraction)]) == "truncated_media"


def test_truncated_jpeg_header_only() -> None:
    # Cut inside the headers: Pillow says "Truncated File Read" (capital T).
    assert error_code(image_bytes("jpeg")[:200]) == "truncated_media"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("gif", "truncated_media"),
        ("bmp", "truncated_media"),
        ("tiff", "truncated_media"),
        # libwebp and libavif do not say why they refuse a cut file.
        ("webp", "corrupt_media"),
        ("avif", "corrupt_media"),
    ],
)
def test_truncated_other_images(fmt: str, expected: str) -> None:
    data = image_bytes(fmt)
    assert error_code(data[: len(data) // 2]) == expected


def test_png_without_iend_still_decodes() -> None:
    # The last chunk (IEND) carries no pixels; a file cut exactly there is complete.
    assert error_code(image_bytes("png")[:-12]) == "ok"


@pytest.mark.parametrize("seed", range(4))
def test_png_corrupted_in_the_middle(seed: int) -> None:
    data = image_bytes("png")
    assert error_code(corrupt(data, len(data) // 2, 200, seed)) == "corrupt_media"


@pytest.mark.parametrize("seed", range(6))
def test_jpeg_corrupted_in_the_middle_never_escapes(seed: int) -> None:
    """Entropy-coded JPEG data has no checksum: libjpeg resynchronises and often returns
    damaged pixels. Either outcome is acceptable; anything but MediaError is not."""
    data = image_bytes("jpeg")
    try:
        media = load_media(corrupt(data, len(data) // 2, 200, seed))
    except MediaError as exc:
        assert exc.code in ("corrupt_media", "truncated_media")
    else:
        assert (media.width, media.height) == SIZE
        assert media.rgb.shape == (SIZE[1], SIZE[0], 3)


def test_jpeg_with_a_broken_huffman_table_is_corrupt() -> None:
    data = bytearray(image_bytes("jpeg"))
    dht = data.index(b"\xff\xc4")
    # The 16 code-length counts now claim 16 * 255 codes: an impossible table.
    data[dht + 5: dht + 21] = b"\xff" * 16
    assert error_code(bytes(data)) == "corrupt_media"


def test_bmp_with_a_bad_header_is_corrupt() -> None:
    real = encode(make_image(4, SIZE), "bmp")
    # A real bitmap header whose pixel data and info block are cut: recognised, not readable.
    assert error_code(real[:30]) in {"corrupt_media", "truncated_media"}
    # "BM" followed by anything but a DIB header is text or noise, not a bitmap.
    assert error_code(b"BM" + b"\0" * 20) == "unsupported_format"
    assert error_code(b"BMW sold 3 cars today") == "unsupported_format"


# -- decompression bombs ---------------------------------------------------------------------


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@pytest.fixture
def no_pixel_decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call that would decode pixels; the test asserts there were none."""
    calls: list[str] = []
    for cls in (ImageFile.ImageFile, TiffImagePlugin.TiffImageFile,
                WebPImagePlugin.WebPImageFile):
        original = cls.load

        def spy(self: Image.Image, _original: Callable[..., object] = original,
                _name: str = cls.__name__) -> object:
            calls.append(_name)
            return _original(self)

        monkeypatch.setattr(cls, "load", spy)
    return calls


BOMBS: dict[str, Callable[[], bytes]] = {
    "png 100000x100000": png_bomb_header,
    "gif 65535x65535": gif_bomb_header,
    "gif small screen, huge frame": lambda: gif_bomb_header(60_000, 60_000, screen=(16, 16)),
    "webp 16383x16383": webp_bomb_header,
    "tiff 100000x100000": tiff_bomb_header,
}


@pytest.mark.parametrize("kind", list(BOMBS))
def test_decompression_bombs_are_refused_before_decoding(kind: str,
                                                         no_pixel_decoding: list[str]) -> None:
    data = BOMBS[kind]()
    assert len(data) < 4096
    before = _peak_rss_bytes()
    with pytest.raises(MediaError) as exc:
        load_media(data)
    assert exc.value.code == "too_many_pixels"
    assert "decompression bomb" in exc.value.message
    assert no_pixel_decoding == [], "pixels were decoded before the size check"
    assert _peak_rss_bytes() - before < 64 * 1024 * 1024


def test_the_pixel_decoding_spy_sees_a_normal_decode(no_pixel_decoding: list[str]) -> None:
    # Control for the bomb test: the spy does notice decoding when it happens.
    load_media(image_bytes("png"))
    load_media(image_bytes("webp"))
    load_media(image_bytes("tiff"))
    assert {"ImageFile", "WebPImageFile", "TiffImageFile"} <= set(no_pixel_decoding)


def test_png_bomb_header_is_well_formed() -> None:
    # The refusal above must come from our size check, not from a broken file: Pillow
    # itself opens it and reports the declared size.
    with Image.open(io.BytesIO(png_bomb_header())) as img:
        assert img.size == (100_000, 100_000)
        assert img.format == "PNG"


def test_pixel_limit_boundary() -> None:
    data = image_bytes("png")
    exact = SIZE[0] * SIZE[1]
    assert error_code(data, limits=Limits(max_image_pixels=exact)) == "ok"
    assert error_code(data, limits=Limits(max_image_pixels=exact - 1)) == "too_many_pixels"


# -- hostile and oversized videos -----------------------------------------------------------


def test_video_with_garbage_after_the_header() -> None:
    data = video_bytes("mp4")
    garbage = corrupt(data, 64, len(data) - 64, seed=0)
    assert error_code(garbage, decode_frames=False) == "corrupt_media"


def test_webm_with_garbage_after_the_header() -> None:
    data = video_bytes("webm")
    assert error_code(corrupt(data, 400, len(data) - 400, seed=0)) == "corrupt_media"


def test_faststart_mp4_with_garbage_media_data_fails_while_decoding() -> None:
    data = video_bytes("mp4", seconds=4.0, faststart=True)
    assert data.index(b"moov") < data.index(b"mdat"), "index before data"
    start = data.index(b"mdat") + 20
    garbage = corrupt(data, start, len(data) - start, seed=0)
    load_media(garbage)  # the index is intact, so probing passes...
    assert error_code(garbage) == "corrupt_media"  # ...and decoding fails


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_truncated_mp4(fraction: float) -> None:
    # Index at the end (FFmpeg's default): the cut file cannot even be opened.
    data = video_bytes("mp4")
    assert error_code(data[: int(len(data) * fraction)], decode_frames=False) == "corrupt_media"


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_truncated_faststart_mp4(fraction: float) -> None:
    # Index first: the file opens, and decoding fails where the data stops.
    data = video_bytes("mp4", seconds=4.0, faststart=True)
    assert error_code(data[: int(len(data) * fraction)]) == "corrupt_media"


def test_truncated_webm_never_escapes() -> None:
    """Matroska has no index to contradict: a cut WebM decodes as a shorter clip."""
    data = video_bytes("webm", seconds=4.0)
    code = error_code(data[: len(data) // 2])
    assert code in ("ok", "corrupt_media", "truncated_media")


def test_cut_video_that_still_decodes_says_it_is_truncated() -> None:
    data = video_bytes("webm", seconds=8.0)
    media = load_media(data[: len(data) // 3])
    if media.duration_s is None:
        pytest.skip("this cut lost the declared duration; nothing to compare against")
    frames = list(media.frames())
    assert frames, "a third of the clip still holds frames"
    assert any(w.startswith("truncated:") for w in media.warnings), media.warnings
    whole = load_media(data)
    list(whole.frames())
    assert not any(w.startswith("truncated:") for w in whole.warnings)


def test_file_without_a_video_stream() -> None:
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="matroska") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert error_code(buf.getvalue()) == "corrupt_media"


def test_video_longer_than_the_limit() -> None:
    data = video_bytes("mp4")  # 3 s
    assert error_code(data, limits=Limits(max_video_seconds=3.0)) == "ok"
    assert error_code(data, limits=Limits(max_video_seconds=2.0),
                      decode_frames=False) == "too_long"


@pytest.mark.parametrize("container", ["webm", "mkv"])
def test_video_longer_than_the_limit_other_containers(container: str) -> None:
    assert error_code(video_bytes(container), limits=Limits(max_video_seconds=2.0)) == "too_long"


def test_video_with_more_frames_than_the_limit() -> None:
    data = video_bytes("mp4")  # 30 frames
    assert error_code(data, limits=Limits(max_video_frames=30)) == "ok"
    limits = Limits(max_video_frames=29)
    # The frame count is only known by decoding: probing accepts, sampling refuses.
    media = load_media(data, limits=limits)
    with pytest.raises(MediaError) as exc:
        for _ in media.frames():
            pass
    assert exc.value.code == "too_many_frames"
    with pytest.raises(MediaError) as exc:
        all_signals()["vpdq"].compute(media)
    assert exc.value.code == "too_many_frames"


def test_video_frame_size_above_the_limit() -> None:
    data = video_bytes("mp4")  # 160x120
    assert error_code(data, limits=Limits(max_video_pixels_per_frame=160 * 120)) == "ok"
    assert error_code(data, limits=Limits(max_video_pixels_per_frame=160 * 120 - 1),
                      decode_frames=False) == "too_many_pixels"


# -- a batch of mixed files ------------------------------------------------------------------


def _batch() -> list[tuple[str, bytes, str]]:
    """(name, bytes, expected code) for 20 uploads, good and hostile mixed."""
    jpeg, png, mp4 = image_bytes("jpeg"), image_bytes("png"), video_bytes("mp4")
    faststart = video_bytes("mp4", seconds=4.0, faststart=True)
    return [
        ("a.jpg", jpeg, "ok"),
        ("b.png", png, "ok"),
        ("c.webp", image_bytes("webp"), "ok"),
        ("d.gif", image_bytes("gif"), "ok"),
        ("e.bmp", image_bytes("bmp"), "ok"),
        ("f.tiff", image_bytes("tiff"), "ok"),
        ("g.avif", image_bytes("avif"), "ok"),
        ("h.mp4", mp4, "ok"),
        ("i.webm", video_bytes("webm"), "ok"),
        ("renamed.jpg", video_bytes("mkv"), "ok"),
        ("empty.jpg", b"", "empty_file"),
        ("noise.jpg", UNSUPPORTED["random"](), "unsupported_format"),
        ("notes.png", UNSUPPORTED["text"](), "unsupported_format"),
        ("doc.pdf", UNSUPPORTED["pdf"](), "unsupported_format"),
        ("bundle.zip", _zip(), "unsupported_format"),
        ("bomb.png", png_bomb_header(), "too_many_pixels"),
        ("bomb.gif", gif_bomb_header(), "too_many_pixels"),
        ("cut.jpg", jpeg[: len(jpeg) // 2], "truncated_media"),
        ("cut.png", png[: len(png) // 2], "truncated_media"),
        ("cut.mp4", faststart[: len(faststart) // 2], "corrupt_media"),
    ]


def test_batch_of_mixed_files_gives_a_result_per_item() -> None:
    batch = _batch()
    assert len(batch) == 20
    signals = all_signals()
    results: dict[str, str] = {}
    for name, data, _ in batch:
        try:
            media: Media = load_media(data, name=name)
            values = {s.name: s.compute(media).value
                      for s in signals.values() if s.applies_to(media)}
            assert "sha256" in values
            assert ("pdq" in values) == (media.kind is MediaKind.IMAGE)
            assert ("vpdq" in values) == (media.kind is MediaKind.VIDEO)
            results[name] = "ok"
        except MediaError as exc:
            results[name] = exc.code
    assert results == {name: expected for name, _, expected in batch}



def test_a_short_videos_frames_are_decoded_once_and_shared_read_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from haechi.media import intake
    from haechi.media import video as video_io

    decodes: list[int] = []
    real = video_io.sample_frames

    def counted(*args: object, **kwargs: object) -> object:
        decodes.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(video_io, "sample_frames", counted)
    media = load_media(make_video(3, seconds=3.0, size=(160, 120)))
    next(media.frames())  # a reader that stops early leaves nothing held
    first = [f.number for f in media.frames()]
    again = list(media.frames())
    assert len(first) >= 3 and [f.number for f in again] == first
    assert len(decodes) == 2  # the early reader's pass, then one full pass
    with pytest.raises(ValueError):
        again[0].rgb[0, 0] = 1  # held frames are shared: nobody may draw on them
    # Over the budget, every reader decodes again.
    monkeypatch.setattr(intake, "HELD_FRAME_BYTES", 10_000)
    big = load_media(make_video(3, seconds=3.0, size=(160, 120)))
    decodes.clear()
    for _ in range(2):
        assert [f.number for f in big.frames()] == first
    assert len(decodes) == 2
