"""Provenance: C2PA manifests signed in the test, IPTC/XMP source types, generator text
chunks and Software tags; the shared ComfyUI images flagged with what was found."""

from __future__ import annotations

import io

import pytest
from c2pa_signing import sign_jpeg
from detection_data import dataset
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fixtures_media import encode, make_image
from haechi.detection.provenance import ProvenanceDetector, inspect_provenance
from haechi.media import load_media

detector = ProvenanceDetector()


def _png(**text: str) -> bytes:
    meta = PngInfo()
    for key, value in text.items():
        meta.add_text(key, value)
    buf = io.BytesIO()
    make_image(3).save(buf, format="PNG", pnginfo=meta)
    return buf.getvalue()


def _jpeg(**options: object) -> bytes:
    buf = io.BytesIO()
    make_image(4).save(buf, format="JPEG", **options)
    return buf.getvalue()


# -- the shared ComfyUI set ----------------------------------------------------------

#: What each file in generated-with-metadata/comfyui carries, read by hand with Pillow.
COMFY_MODELS = {
    "area_composition__workflow_night_evening_day_morning.png": "AbyssOrangeMix2_hard",
    "controlnet__depth_controlnet.png": "v1-5-pruned-emaonly.ckpt",
    "flux__flux_depth_lora_example.png": "flux1-dev.safetensors",
    "hypernetworks__hypernetwork_example_output.png": "v1-5-pruned-emaonly.ckpt",
    "inpaint__inpaint_example.png": "512-inpainting-ema.safetensors",
    "lora__lora_multiple.png": "v1-5-pruned-emaonly.ckpt",
    "stable_cascade__stable_cascade__image_to_image.png": "stable_cascade_stage_c",
}
#: Shipped beside the examples without generator metadata: a camera photo (the LTXV
#: input, EXIF from an Olympus) and a sunset whose chunks were stripped.
COMFY_UNMARKED = {"ltxv__island.jpg", "unclip__sunset.png"}


def test_every_comfyui_image_is_flagged_with_what_was_found() -> None:
    folder = dataset("generated-with-metadata/comfyui")
    seen = {p.name for p in folder.iterdir()}
    assert seen == set(COMFY_MODELS) | COMFY_UNMARKED
    for name, model in COMFY_MODELS.items():
        result = detector.detect(load_media((folder / name).read_bytes(), name=name))
        assert result.score == 1.0, (name, result.reason)
        prompt = next(f for f in result.findings if "'prompt'" in f)
        assert prompt.startswith("PNG text chunk 'prompt': ComfyUI (prompt graph); ")
        assert model in prompt, prompt
        assert any(f.startswith("PNG text chunk 'workflow': ComfyUI (workflow); ")
                   and "nodes in the editor graph" in f for f in result.findings)
    for name in COMFY_UNMARKED:
        result = detector.detect(load_media((folder / name).read_bytes(), name=name))
        assert result.score == 0.0 and result.findings == [], (name, result.findings)
        assert "absence proves nothing" in result.reason


# -- generator text chunks and Software tags ------------------------------------------

def test_automatic1111_parameters() -> None:
    text = "a lighthouse\nNegative prompt: blur\nSteps: 20, Sampler: Euler a, Seed: 5"
    result = detector.detect(load_media(_png(parameters=text)))
    assert result.score == 1.0
    assert result.findings == [
        "PNG text chunk 'parameters': AUTOMATIC1111 / Forge (parameters); "
        f"{len(text)} characters: {text[:80]!r}"]


def test_comfyui_chunk_that_is_not_json_is_still_reported() -> None:
    result = detector.detect(load_media(_png(prompt="{broken")))
    assert result.findings == ["PNG text chunk 'prompt': ComfyUI (prompt graph); not valid JSON"]


def test_ordinary_text_chunks_are_not_evidence() -> None:
    result = detector.detect(load_media(_png(Title="holiday", Comment="nice view")))
    assert result.score == 0.0 and result.findings == []


@pytest.mark.parametrize(("software", "generated"), [
    ("Adobe Firefly", True), ("Stable Diffusion 3.5", True), ("GIMP 2.10.34", False)])
def test_exif_software(software: str, generated: bool) -> None:
    exif = Image.Exif()
    exif[305] = software
    result = detector.detect(load_media(_jpeg(exif=exif)))
    assert result.score == (1.0 if generated else 0.0)
    expected = f"EXIF Software = {software!r}"
    assert result.findings == [expected + (" (a known image generator)" if generated else "")]


# -- IPTC / XMP ------------------------------------------------------------------------

def _xmp(code: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
        f'{code}"/></rdf:RDF></x:xmpmeta>').encode()


@pytest.mark.parametrize(("code", "generated"), [
    ("trainedAlgorithmicMedia", True), ("compositeWithTrainedAlgorithmicMedia", True),
    ("digitalCapture", False)])
def test_xmp_digital_source_type(code: str, generated: bool) -> None:
    result = detector.detect(load_media(_jpeg(xmp=_xmp(code))))
    assert result.findings == [f"XMP DigitalSourceType {code}"]
    assert result.score == (1.0 if generated else 0.0)


# -- C2PA ----------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["trainedAlgorithmicMedia",
                                  "compositeWithTrainedAlgorithmicMedia"])
def test_c2pa_manifest_signed_here(code: str) -> None:
    signed = sign_jpeg(encode(make_image(5), "JPEG"), source_type=code,
                       generator="test-generator")
    report = inspect_provenance(load_media(signed))
    # Signature and hashes check out; the throwaway CA is in no trust list.
    assert report.c2pa_state == "Valid"
    assert report.claim_generator == "test-generator 1.0"
    assert report.source_types == [code]
    assert report.findings[0] == ("C2PA manifest: validation Valid; claim generator "
                                  "'test-generator 1.0'; failures: signingCredential.untrusted")
    assert report.generated == [f"C2PA action digitalSourceType {code} (validation Valid)"]
    result = detector.detect(load_media(signed))
    assert result.score == 1.0 and result.scores == {"c2pa_valid": 1.0}


def test_c2pa_camera_capture_is_not_generated() -> None:
    signed = sign_jpeg(encode(make_image(6), "JPEG"), source_type="digitalCapture",
                       generator="test-camera")
    result = detector.detect(load_media(signed))
    assert result.score == 0.0
    assert "C2PA action digitalSourceType digitalCapture (validation Valid)" in result.findings


def test_c2pa_tampered_pixels_are_reported_invalid() -> None:
    signed = bytearray(sign_jpeg(encode(make_image(7), "JPEG"), source_type="digitalCapture",
                                 generator="test-generator"))
    # Change one quantisation-table entry: the file still decodes, its pixels differ.
    table = signed.index(b"\xff\xdb") + 5
    signed[table] = signed[table] % 200 + 1
    report = inspect_provenance(load_media(bytes(signed)))
    assert report.c2pa_state == "Invalid", report.findings
    assert "validation Invalid" in report.findings[0]
