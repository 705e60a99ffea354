"""Provenance: what the file itself says about how it was made.

Four sources, each reported exactly as found:

- C2PA manifests (``c2pa-python``): validation state, claim generator, and the
  ``digitalSourceType`` of the actions (trainedAlgorithmicMedia,
  compositeWithTrainedAlgorithmicMedia, ...). Remote manifests and OCSP are never
  fetched: a scan must not reach out to addresses an uploader chose.
- IPTC/XMP ``DigitalSourceType`` URIs in embedded XMP packets.
- Generator metadata: AUTOMATIC1111 ``parameters``, ComfyUI ``prompt`` / ``workflow``
  and InvokeAI / NovelAI text chunks; EXIF or PNG ``Software`` naming a known generator.
- The Stable Diffusion / SDXL invisible watermarks (:mod:`haechi.detection.watermark`),
  in losslessly stored images of generator size (JPEG erases them; see there).

Absence of metadata proves nothing (it is stripped by most re-uploads), so the score is
1 on positive evidence of generation and 0 otherwise; it is never evidence of a camera.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from haechi.detection.base import Detection, Detector, DetectorExample
from haechi.detection.examples import neutral_image
from haechi.detection.watermark import find_watermarks
from haechi.media import Media, MediaKind, load_media

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
#: DigitalSourceType codes that mean a model made or changed the pixels.
GENERATED_SOURCE_TYPES = frozenset({
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "algorithmicMedia",
    "compositeSynthetic",
})
#: Substrings of ``Software`` tags written by image generators (lowercase).
KNOWN_GENERATORS = (
    "stable diffusion", "automatic1111", "comfyui", "invokeai", "novelai", "midjourney",
    "dall-e", "dall·e", "dalle", "adobe firefly", "firefly", "imagen", "leonardo.ai",
    "fooocus", "draw things", "diffusionbee", "sdxl", "flux", "ideogram", "openai",
    "bing image creator", "gemini",
)
#: PNG text keys that only generators write, and which tool writes them.
GENERATOR_TEXT_KEYS = {
    "parameters": "AUTOMATIC1111 / Forge (parameters)",
    "prompt": "ComfyUI (prompt graph)",
    "workflow": "ComfyUI (workflow)",
    "invokeai_metadata": "InvokeAI",
    "sd-metadata": "InvokeAI (legacy)",
    "dream": "InvokeAI (legacy dream)",
    "Comment": "NovelAI (Comment)",
}
_DST_RE = re.compile(rb"digitalsourcetype/([A-Za-z]+)")
#: Scan at most this much of a file for XMP: packets sit near the start in practice.
_XMP_SCAN_BYTES = 4 * 1024 * 1024
_C2PA_FORMATS = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "tiff": "image/tiff", "avif": "image/avif", "heic": "image/heic",
                 "gif": "image/gif", "mp4": "video/mp4", "mov": "video/quicktime"}
#: Generators write at most about a megapixel (SDXL 1024x1024, 1216x832); larger or
#: lossy images are not searched for watermarks (cost, and JPEG erases the mark anyway).
WATERMARK_MAX_PIXELS = 1_200_000
_LOSSLESS = frozenset({"png", "bmp", "tiff", "webp"})
#: The C2PA validation states: Invalid < Valid (signature checks) < Trusted (known CA).
C2PA_STATES = ("Invalid", "Valid", "Trusted")


@dataclass
class ProvenanceReport:
    findings: list[str] = field(default_factory=list)
    #: Findings that show generation; the others are neutral facts.
    generated: list[str] = field(default_factory=list)
    c2pa_state: str | None = None
    claim_generator: str | None = None
    source_types: list[str] = field(default_factory=list)
    generators: list[str] = field(default_factory=list)

    def note(self, text: str, *, generated: bool = False) -> None:
        self.findings.append(text)
        if generated:
            self.generated.append(text)


def _comfy_summary(raw: str) -> str:
    """Node types, checkpoints and seeds from a ComfyUI prompt graph, briefly."""
    try:
        graph = json.loads(raw)
    except ValueError:
        return "not valid JSON"
    if not isinstance(graph, dict):
        return "JSON but not a node graph"
    nodes = [n for n in graph.values() if isinstance(n, dict)]
    models = sorted({str(v) for n in nodes for k, v in (n.get("inputs") or {}).items()
                     if k in ("ckpt_name", "unet_name", "lora_name") and isinstance(v, str)})
    text = f"{len(nodes)} nodes"
    if models:
        text += f", models: {', '.join(models[:5])}"
    return text


def _workflow_summary(raw: str) -> str:
    try:
        flow = json.loads(raw)
    except ValueError:
        return "not valid JSON"
    nodes = flow.get("nodes") if isinstance(flow, dict) else None
    if not isinstance(nodes, list):
        return "JSON without a node list"
    return f"{len(nodes)} nodes in the editor graph"


def _text_chunks(media: Media, report: ProvenanceReport) -> None:
    try:
        with Image.open(io.BytesIO(media.data)) as img:
            info = dict(img.info)
            exif = img.getexif()
    except (OSError, ValueError, SyntaxError):
        return  # intake decoded it already; metadata that Pillow cannot read is absent
    for key, label in GENERATOR_TEXT_KEYS.items():
        value = info.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        if key == "Comment" and "steps" not in value.lower():
            continue  # a plain comment, not NovelAI's JSON of sampler settings
        if key == "prompt":
            detail = _comfy_summary(value)
        elif key == "workflow":
            detail = _workflow_summary(value)
        else:
            detail = f"{len(value)} characters: {value[:80]!r}"
        report.note(f"{media.format.upper()} text chunk {key!r}: {label}; {detail}",
                    generated=True)
        report.generators.append(label)
    software = [("EXIF Software", exif.get(305)), ("text chunk Software", info.get("Software"))]
    for where, value in software:
        if isinstance(value, str) and value.strip():
            known = any(g in value.lower() for g in KNOWN_GENERATORS)
            report.note(f"{where} = {value.strip()[:120]!r}"
                        + (" (a known image generator)" if known else ""), generated=known)
            if known:
                report.generators.append(value.strip()[:120])


def _xmp_packets(data: bytes) -> list[bytes]:
    """XMP packets (``<x:xmpmeta>`` ... ``</x:xmpmeta>``) in the first bytes of a file.

    Only inside packets: C2PA manifests carry the same URIs in binary boxes, and those
    are reported, with their validation state, by the C2PA reader instead."""
    head = data[:_XMP_SCAN_BYTES]
    packets: list[bytes] = []
    start = head.find(b"<x:xmpmeta")
    while start != -1 and len(packets) < 16:
        end = head.find(b"</x:xmpmeta>", start)
        if end == -1:
            break
        packets.append(head[start:end])
        start = head.find(b"<x:xmpmeta", end)
    return packets


def _xmp_source_types(media: Media, report: ProvenanceReport) -> None:
    codes = sorted({m.decode() for packet in _xmp_packets(media.data)
                    for m in _DST_RE.findall(packet)})
    for code in codes:
        generated = code in GENERATED_SOURCE_TYPES
        report.note(f"XMP DigitalSourceType {code}", generated=generated)
        report.source_types.append(code)


def _c2pa(media: Media, report: ProvenanceReport) -> None:
    mime = _C2PA_FORMATS.get(media.format)
    if mime is None:
        return
    try:
        import c2pa  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # optional: provenance from metadata still works
        return
    settings = c2pa.Settings.from_json(json.dumps(
        {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}))
    try:
        with c2pa.Context(settings) as ctx:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(media.data), None, ctx)
            if reader is None:
                return
            with reader:
                state = reader.get_validation_state() or "unknown"
                manifest = reader.get_active_manifest() or {}
                results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        report.note(f"C2PA manifest present but unreadable: {str(exc)[:160]}")
        report.c2pa_state = "Invalid"
        return
    report.c2pa_state = state
    generator = _claim_generator(manifest)
    report.claim_generator = generator
    failures = _failure_codes(results)
    report.note(f"C2PA manifest: validation {state}; claim generator {generator!r}"
                + (f"; failures: {', '.join(failures[:5])}" if failures else ""))
    for code in _manifest_source_types(manifest):
        generated = code in GENERATED_SOURCE_TYPES
        report.note(f"C2PA action digitalSourceType {code} (validation {state})",
                    generated=generated)
        report.source_types.append(code)


def _claim_generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name", ""), info[0].get("version", "")
        return f"{name} {version}".strip()
    return str(manifest.get("claim_generator") or "")


def _failure_codes(results: dict[str, Any]) -> list[str]:
    codes: list[str] = []
    active = results.get("activeManifest") if isinstance(results, dict) else None
    for item in (active or {}).get("failure", []) if isinstance(active, dict) else []:
        if isinstance(item, dict) and "code" in item:
            codes.append(str(item["code"]))
    return codes


def _manifest_source_types(manifest: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not (isinstance(assertion, dict)
                and str(assertion.get("label", "")).startswith("c2pa.actions")):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            dst = action.get("digitalSourceType") if isinstance(action, dict) else None
            if isinstance(dst, str) and dst:
                found.append(dst.rsplit("/", 1)[-1])
    return sorted(set(found))


def _watermarks(media: Media, report: ProvenanceReport) -> None:
    if media.format not in _LOSSLESS or media.width * media.height > WATERMARK_MAX_PIXELS:
        return
    rgb = media.rgb
    if media.working_size != (media.width, media.height):
        # Intake reduced it; the mark lives in the exact pixels, so decode them again.
        with Image.open(io.BytesIO(media.data)) as img:
            rgb = np.asarray(img.convert("RGB"))
    for found in find_watermarks(rgb):
        report.note(f"invisible watermark: {found.name}, {found.agreement:.0%} of bits agree",
                    generated=True)
        report.generators.append(found.name)


def inspect_provenance(media: Media) -> ProvenanceReport:
    report = ProvenanceReport()
    if media.kind is MediaKind.IMAGE:
        _text_chunks(media, report)
        _watermarks(media, report)
    _xmp_source_types(media, report)
    _c2pa(media, report)
    return report


class ProvenanceDetector(Detector):
    name = "provenance"
    version = 1
    media_kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})

    def detect(self, media: Media) -> Detection:
        report = inspect_provenance(media)
        if report.generated:
            reason = "made by a generator, says the file: " + "; ".join(report.generated)
            score = 1.0
        elif report.findings:
            reason = "provenance found, none says generated: " + "; ".join(report.findings)
            score = 0.0
        else:
            reason = "no provenance metadata (absence proves nothing: re-uploads strip it)"
            score = 0.0
        scores = {"c2pa_valid": 1.0} if report.c2pa_state in ("Valid", "Trusted") else {}
        return self.result(score, reason[:500], findings=report.findings, scores=scores)

    @classmethod
    def examples(cls) -> Sequence[DetectorExample]:
        from PIL.PngImagePlugin import PngInfo

        from haechi.samples import make_image

        def tagged() -> Media:
            meta = PngInfo()
            meta.add_text("parameters", "a lighthouse at dusk\nSteps: 20, Sampler: Euler a")
            buf = io.BytesIO()
            make_image(7).save(buf, format="PNG", pnginfo=meta)
            return load_media(buf.getvalue(), name="a1111.png")

        def flagged(d: Detection) -> str | None:
            return None if d.score == 1.0 and "parameters" in d.reason else d.reason

        def clean(d: Detection) -> str | None:
            return None if d.score == 0.0 and not d.findings else d.reason

        return [DetectorExample("AUTOMATIC1111 parameters chunk", tagged, flagged),
                DetectorExample("plain generated drawing", lambda: neutral_image(2), clean)]
