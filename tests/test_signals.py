"""The conformance test every signal passes, then PDQ and vPDQ interop and robustness.

A third-party signal installed through the ``haechi.signals`` entry points is picked up by
``all_signals()`` and must pass the first half of this file unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures_media import (
    brighten,
    encode,
    jpeg_recompress,
    make_image,
    make_photo,
    make_video,
    mirror,
    resize,
    rotate90,
    transcode_video,
)
from haechi.errors import InvalidHashError, MediaError
from haechi.media import Limits, Media, MediaKind, load_media
from haechi.signals import Signal, SignalValue, all_signals, get_signal
from haechi.signals.pdq import (
    DEFAULT_THRESHOLD,
    DIHEDRAL_TRANSFORMS,
    MIN_QUALITY,
    dihedral_of_rgb,
    hamming,
)
from haechi.signals.vpdq import (
    VpdqFeature,
    parse_compact,
    read_features,
    to_compact,
    write_cli_format,
)

SIGNALS = all_signals()
NAMES = sorted(SIGNALS)
#: Large enough that halving it keeps PDQ's box filters above one pixel (see make_image).
PHOTO = (640, 480)


@cache
def sample_media(kind: MediaKind) -> Media:
    if kind is MediaKind.IMAGE:
        return load_media(encode(make_image(11, (320, 240)), "jpeg"), name="sample.jpg")
    return load_media(make_video(11, seconds=3.0, fps=10), name="sample.mp4")


def pdq_of(img: Image.Image) -> str:
    return get_signal("pdq").compute(load_media(encode(img, "png"))).value


# -- conformance: every registered signal ---------------------------------------------------


def test_builtins_are_registered() -> None:
    assert {"sha256", "md5", "pdq", "vpdq"} <= set(SIGNALS)


@pytest.mark.parametrize("name", NAMES)
def test_identity(name: str) -> None:
    signal = SIGNALS[name]
    assert isinstance(signal, Signal)
    assert signal.name == name
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name), "names are storage keys: lowercase ids"
    assert isinstance(signal.version, int) and not isinstance(signal.version, bool)
    assert signal.version >= 1
    assert signal.media_kinds and set(signal.media_kinds) <= set(MediaKind)
    assert get_signal(name) is signal


def test_names_are_unique() -> None:
    assert len({s.name for s in SIGNALS.values()}) == len(SIGNALS)


@pytest.mark.parametrize("name", NAMES)
def test_examples_hold(name: str) -> None:
    signal = SIGNALS[name]
    examples = list(signal.examples())
    assert examples, "every signal ships examples"
    assert any(e.matches for e in examples)
    assert any(not e.matches for e in examples), "a signal that matches everything is useless"
    for example in examples:
        a, b = signal.parse(example.a), signal.parse(example.b)
        result = signal.compare(a, b)
        assert result.matched is example.matches, example


@pytest.mark.parametrize("name", NAMES)
def test_parse_is_idempotent(name: str) -> None:
    signal = SIGNALS[name]
    for example in signal.examples():
        for raw in (example.a, example.b, f"  {example.a}\n"):
            once = signal.parse(raw)
            assert signal.parse(once) == once
            assert signal.compare(once, raw).matched


def _garbage(valid: str) -> dict[str, str]:
    hex_at = next(i for i, c in enumerate(valid) if c in "0123456789abcdefABCDEF")
    return {
        "empty": "",
        "blank": "   \n\t",
        "one short": valid[:-1],
        "one long": valid + "0",
        "non-hex": valid[:hex_at] + "g" + valid[hex_at + 1:],
        "unicode digit": valid[:hex_at] + "\u0661" + valid[hex_at + 1:],  # Arabic-Indic 1
        "huge": "0" * 10_000_000,
        "huge valid repeated": valid * 10_000,
        "nul": "\0" * len(valid),
        "json null": "null",
        "json object": json.dumps({"hash": valid}),
        "words": "not a hash",
    }


@pytest.mark.parametrize("name", NAMES)
def test_parse_rejects_garbage(name: str) -> None:
    signal = SIGNALS[name]
    valid = signal.parse(signal.examples()[0].a)
    for label, junk in _garbage(valid).items():
        with pytest.raises(InvalidHashError) as exc:
            signal.parse(junk)
        assert exc.value.code == "invalid_hash", label
        assert len(exc.value.message) < 1000, f"{label}: messages must not echo huge input"


@pytest.mark.parametrize("name", NAMES)
def test_compute_on_generated_media(name: str) -> None:
    signal = SIGNALS[name]
    for kind in MediaKind:
        media = sample_media(kind)
        assert signal.applies_to(media) is (kind in signal.media_kinds)
        if not signal.applies_to(media):
            continue
        value = signal.compute(media)
        assert (value.signal, value.version) == (signal.name, signal.version)
        assert signal.parse(value.value) == value.value, "compute returns the canonical form"
        assert signal.compare(value.value, value.value).matched
        assert value.quality is None or 0 <= value.quality <= 100
        assert signal.compute(media) == value, "compute is deterministic"


@pytest.mark.parametrize("name", ["sha256", "md5"])
def test_digests_are_of_the_exact_bytes(name: str) -> None:
    media = sample_media(MediaKind.IMAGE)
    value = SIGNALS[name].compute(media).value
    assert value == hashlib.new(name, media.data).hexdigest()
    tweaked = load_media(media.data + b"\0")  # trailing byte after EOI: same picture
    assert not SIGNALS[name].compare(value, SIGNALS[name].compute(tweaked).value).matched


# -- PDQ --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_pdq_hex_equals_threatexchange(fmt: str) -> None:
    pdq_hasher = pytest.importorskip("threatexchange.signal_type.pdq.pdq_hasher",
                                     reason="needs the 'bench' extra (threatexchange)")
    for seed in range(5):
        data = encode(make_image(seed, PHOTO), fmt)
        ours = get_signal("pdq").compute(load_media(data))
        theirs_hex, theirs_quality = pdq_hasher.pdq_from_bytes(data)
        assert ours.value == theirs_hex
        assert ours.quality == theirs_quality


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_pdq_of_large_images_stays_close_to_threatexchange(fmt: str) -> None:
    """Large pictures are hashed at a reduced working size: the hash moves a few bits from
    the full-resolution one that other tools compute, far inside the 31 allowed; with the
    working size switched off it is bit-identical again."""
    pdq_hasher = pytest.importorskip("threatexchange.signal_type.pdq.pdq_hasher",
                                     reason="needs the 'bench' extra (threatexchange)")
    for seed in range(3):
        data = encode(make_photo(seed, (2400, 1800)), fmt)
        theirs, _ = pdq_hasher.pdq_from_bytes(data)
        ours = get_signal("pdq").compute(load_media(data)).value
        assert hamming(ours, theirs) <= 10  # measured: at most 6 on these files
        full = get_signal("pdq").compute(load_media(data, limits=Limits(working_short_side=0)))
        assert full.value == theirs


def test_pdq_quality_of_generated_images_is_high() -> None:
    for seed in range(10):
        assert get_signal("pdq").compute(load_media(encode(make_image(seed), "png"))).quality \
            >= MIN_QUALITY


def test_pdq_quality_of_a_flat_image_is_low() -> None:
    flat = Image.new("RGB", (320, 240), (120, 130, 140))
    assert get_signal("pdq").compute(load_media(encode(flat, "png"))).quality < MIN_QUALITY


EDITS = {
    "jpeg q40": lambda im: jpeg_recompress(im, 40),
    "resize 0.5": lambda im: resize(im, 0.5),
    "brighten 30%": lambda im: brighten(im, 1.3),
}


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("seed", range(4))
def test_pdq_survives_edits(edit: str, seed: int) -> None:
    original = make_image(seed, PHOTO)
    pdq = get_signal("pdq")
    result = pdq.compare(pdq_of(original), pdq_of(EDITS[edit](original)))
    assert result.matched, result
    assert result.distance is not None and result.distance <= DEFAULT_THRESHOLD


TRANSFORMS = {
    "rotate 90 ccw": rotate90,
    "rotate 90 cw": lambda im: rotate90(im, clockwise=True),
    "rotate 180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
    "mirror": mirror,
    "flip vertical": lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("seed", range(3))
def test_pdq_dihedral_finds_rotated_and_mirrored(transform: str, seed: int) -> None:
    original = make_image(seed, PHOTO)
    reference = pdq_of(original)
    edited = load_media(encode(TRANSFORMS[transform](original), "png"))
    variants, quality = dihedral_of_rgb(edited.rgb)
    assert len(variants) == 8 and quality >= MIN_QUALITY
    assert hamming(reference, pdq_of(TRANSFORMS[transform](original))) > DEFAULT_THRESHOLD, \
        "the plain hash alone should not match, or this test proves nothing"
    assert min(hamming(reference, v) for v in variants) <= DEFAULT_THRESHOLD


def test_pdq_dihedral_labels() -> None:
    """Variant i is the hash of the query after ``DIHEDRAL_TRANSFORMS[i]``."""
    ops = {
        "original": None,
        "rotate_90_ccw": Image.Transpose.ROTATE_90,
        "rotate_180": Image.Transpose.ROTATE_180,
        "rotate_90_cw": Image.Transpose.ROTATE_270,
        "flip_vertical": Image.Transpose.FLIP_TOP_BOTTOM,
        "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
        "transpose": Image.Transpose.TRANSPOSE,
        "anti_transpose": Image.Transpose.TRANSVERSE,
    }
    assert tuple(ops) == DIHEDRAL_TRANSFORMS
    query = make_image(5, PHOTO)
    variants, _ = dihedral_of_rgb(np.asarray(query))
    for label, variant in zip(DIHEDRAL_TRANSFORMS, variants, strict=True):
        op = ops[label]
        explicit = pdq_of(query if op is None else query.transpose(op))
        assert hamming(variant, explicit) <= DEFAULT_THRESHOLD, label


def test_pdq_different_images_are_far_apart() -> None:
    hashes = [pdq_of(make_image(seed, PHOTO)) for seed in range(12)]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1:]]
    assert min(distances) > DEFAULT_THRESHOLD


# -- vPDQ -------------------------------------------------------------------------------------


@cache
def clip(seed: int, seconds: float = 5.0) -> bytes:
    return make_video(seed, seconds=seconds, fps=10, size=PHOTO)


@cache
def vpdq_of(data: bytes) -> SignalValue:
    return get_signal("vpdq").compute(load_media(data))


def test_vpdq_samples_one_frame_per_second() -> None:
    value = vpdq_of(clip(21))
    features = parse_compact(value.value)
    assert [f.timestamp for f in features] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all(f.quality >= MIN_QUALITY for f in features)
    assert value.quality == 100  # percent of frames usable
    # The scene changes every second, so every sample is a different picture.
    assert len({f.pdq for f in features}) == len(features)


def test_vpdq_compact_round_trips() -> None:
    value = vpdq_of(clip(21)).value
    features = read_features(value)
    assert to_compact(features) == value
    assert all(isinstance(item, str) and item.count(",") == 2 for item in json.loads(value))


def test_vpdq_cli_format() -> None:
    features = [VpdqFeature(f.pdq, f.quality, f.timestamp, number)
                for number, f in zip((0, 10, 20, 30, 40),
                                     parse_compact(vpdq_of(clip(21)).value), strict=True)]
    text = write_cli_format(features)
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == len(features)
    for line, f in zip(lines, features, strict=True):
        number, quality, pdq_hex, timestamp = line.split(",")
        assert re.fullmatch(r"\d+", number) and int(number) == f.frame_number
        assert int(quality) == f.quality
        assert re.fullmatch(r"[0-9a-f]{64}", pdq_hex) and pdq_hex == f.pdq
        assert re.fullmatch(r"\d+\.\d{3}", timestamp) and float(timestamp) == f.timestamp
    back = read_features(text)
    assert back == features
    assert to_compact(back) == to_compact(features)
    assert get_signal("vpdq").parse(text) == to_compact(features)


def test_vpdq_reads_threatexchange_timestamp_style() -> None:
    """python-threatexchange writes timestamps with ``{:.3}`` (3 significant digits), so
    long clips arrive as ``1.23e+02``; those must read."""
    pdq_hex = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    stamps = [0.0, 1.0, 12.5, 123.0, 1234.0]
    value = json.dumps([f"{pdq_hex},100,{t:.3}" for t in stamps])
    assert "1.23e+02" in value
    features = parse_compact(value)
    assert [f.timestamp for f in features] == [float(f"{t:.3}") for t in stamps]


@pytest.mark.parametrize(
    ("label", "kwargs"),
    [
        ("vp9 webm, low bitrate", {"codec": "libvpx-vp9", "container": "webm",
                                   "bitrate": 200_000}),
        ("vp9 webm, half size", {"codec": "libvpx-vp9", "container": "webm",
                                 "size": (320, 240), "bitrate": 150_000}),
        ("mpeg4 mkv, half size", {"codec": "mpeg4", "container": "mkv",
                                  "size": (320, 240), "bitrate": 100_000}),
        ("h264 mov", {"codec": "libx264", "container": "mov"}),
    ],
)
def test_vpdq_reencoded_video_still_matches(label: str, kwargs: dict[str, object]) -> None:
    original = vpdq_of(clip(21)).value
    reencoded = get_signal("vpdq").compute(load_media(transcode_video(clip(21), **kwargs)))
    result = get_signal("vpdq").compare(reencoded.value, original)
    assert result.matched, (label, result)
    assert result.query_share is not None and result.query_share >= 80.0


def test_vpdq_different_video_does_not_match() -> None:
    result = get_signal("vpdq").compare(vpdq_of(clip(22)).value, vpdq_of(clip(21)).value)
    assert not result.matched
    assert result.query_share is not None and result.query_share < 80.0


def test_vpdq_value_reads_in_threatexchange() -> None:
    try:
        from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq
    except ImportError as exc:
        pytest.skip(f"python-threatexchange's vpdq extension needs the 'vpdq' package: {exc}")
    value = vpdq_of(clip(21)).value
    theirs = json_to_vpdq(value)
    ours = parse_compact(value)
    assert [(f.pdq_hex, f.quality, f.timestamp) for f in theirs] == [
        (f.pdq, f.quality, f.timestamp) for f in ours]


def test_vpdq_compute_refuses_images() -> None:
    # compute is only called where applies_to says so; calling it anyway is a clear error.
    with pytest.raises(MediaError) as exc:
        get_signal("vpdq").compute(sample_media(MediaKind.IMAGE))
    assert exc.value.code == "wrong_media_kind"


@pytest.mark.parametrize(
    ("size", "container", "fps"),
    [((640, 480), "mp4", 24), ((1280, 720), "mp4", 10), ((320, 240), "webm", 10)],
)
def test_vpdq_hashes_agree_with_metas_vpdq_tool(size: tuple[int, int], container: str,
                                                fps: int, tmp_path: Path) -> None:
    """Hashes of the same video from Meta's vpdq and from Haechi are identical (same
    frames sampled, same PDQ) and match both ways; Meta's CLI file format and
    python-threatexchange's serialisation of its result both read here, so banks can be
    shared either way."""
    vpdq = pytest.importorskip(
        "vpdq", reason="needs Meta's 'vpdq' package (built against FFmpeg's -dev libraries)")
    data = make_video(23, seconds=4.0, fps=fps, size=size, container=container)
    path = tmp_path / f"clip.{container}"
    path.write_bytes(data)
    raw = vpdq.computeHash(str(path), seconds_per_hash=1.0)
    theirs = [VpdqFeature(f.hex, f.quality, round(f.timestamp, 3), f.frame_number)
              for f in raw]
    ours = get_signal("vpdq").compute(load_media(data)).value
    assert [(f.pdq, f.quality, f.timestamp) for f in parse_compact(ours)] == [
        (f.pdq, f.quality, f.timestamp) for f in theirs]
    signal = get_signal("vpdq")
    from_meta = signal.parse(write_cli_format(theirs))
    forward = signal.compare(ours, from_meta)
    backward = signal.compare(from_meta, ours)
    assert forward.matched and backward.matched, (forward, backward)
    assert forward.query_share == 100.0 and backward.query_share == 100.0
    try:
        from threatexchange.extensions.vpdq import vpdq_util
    except ImportError:
        return
    te_value = vpdq_util.vpdq_to_json(
        [vpdq_util.VpdqCompactFeature.from_vpdq_feature(f) for f in raw])
    assert signal.compare(ours, signal.parse(te_value)).query_share == 100.0
