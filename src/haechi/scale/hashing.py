"""Hashing (and optionally detection) of one stored item, as back-scan workers run it.

Workers need no database: they read bytes, compute every signal the engine computes for
an upload (SHA-256, MD5, PDQ with its 8 dihedral variants or vPDQ) and, when asked, the
detection verdicts; the driver matches and records. The same code runs inside Ray
actors and in-process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from haechi.detection.settings import DetectionSettings
from haechi.errors import HaechiError
from haechi.media import MediaKind, load_media
from haechi.media.limits import Limits
from haechi.scale.sources import Reader, S3Options
from haechi.signals import get_signal
from haechi.signals.pdq import dihedral_of_rgb
from haechi.signals.vpdq import VpdqSignal

log = logging.getLogger(__name__)


class HashedItem(BaseModel):
    uri: str
    status: str = "ok"
    error_code: str | None = None
    error_message: str | None = None
    media_kind: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    md5: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    #: The 8 PDQ variants (rotations and flips), original first; matched, not stored.
    pdq_variants: list[str] = Field(default_factory=list)
    vpdq: str | None = None
    #: Detection scores under the moderation policy's names.
    detections: dict[str, float] = Field(default_factory=dict)
    #: Why detection did not run (a detector that failed to load, ...); hashes still do.
    detection_error: str | None = None
    #: CPU time the worker spent on the item (reading included): the cost a cluster
    #: is sized by, unaffected by how busy the machine was.
    cpu_ms: float = 0.0


def hash_data(uri: str, data: bytes, limits: Limits,
              detection: DetectionSettings | None = None) -> HashedItem:
    """Hash bytes already read; never raises for bad media (the item says why)."""
    item = HashedItem(uri=uri, bytes=len(data))
    try:
        media = load_media(data, name=uri.rsplit("/", 1)[-1], limits=limits)
        item.media_kind = media.kind.value
        item.sha256 = get_signal("sha256").compute(media).value
        item.md5 = get_signal("md5").compute(media).value
        if media.kind is MediaKind.IMAGE:
            item.pdq_variants, item.pdq_quality = dihedral_of_rgb(media.rgb)
            item.pdq = item.pdq_variants[0]
        else:
            value = VpdqSignal().compute(media)
            item.vpdq, item.pdq_quality = value.value, value.quality
    except HaechiError as exc:
        item.status, item.error_code, item.error_message = "error", exc.code, exc.message
        return item
    except Exception as exc:  # a decoder's own bug: recorded, and the job goes on
        log.exception("hashing failed for %s", uri)
        item.status, item.error_code = "error", "hash_failed"
        item.error_message = f"{type(exc).__name__}: {exc}"[:1000]
        return item
    if detection is not None:
        from haechi.detection.verdicts import detect_all

        try:
            item.detections = detect_all(detection, media).policy_scores()
        except Exception as exc:  # one broken model must not stop a million-item job
            log.exception("detection failed for %s", uri)
            item.detection_error = f"{type(exc).__name__}: {exc}"[:1000]
    return item


class ItemHasher:
    """A worker: reads and hashes a batch of URIs. Ray builds one per actor, so the
    detection models load once per actor, not once per item."""

    def __init__(self, limits: dict[str, Any], detect: bool,
                 detection: dict[str, Any] | None = None,
                 s3: dict[str, Any] | None = None) -> None:
        self.limits = Limits(**limits)
        self.detection = DetectionSettings(**(detection or {})) if detect else None
        self.reader = Reader(self.limits.max_bytes, S3Options(**(s3 or {})))

    def hash_uri(self, uri: str) -> HashedItem:
        started = time.process_time()
        try:
            item = hash_data(uri, self.reader.read(uri), self.limits, self.detection)
        except HaechiError as exc:
            item = HashedItem(uri=uri, status="error", error_code=exc.code,
                              error_message=exc.message)
        item.cpu_ms = round((time.process_time() - started) * 1000, 3)
        return item

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Ray Data's batch contract: columns in, columns out (results as JSON text)."""
        results = [self.hash_uri(str(uri)).model_dump_json() for uri in batch["uri"]]
        return {"uri": batch["uri"], "result": np.array(results, dtype=object)}


def hasher_arguments(limits: Limits, detect: bool, detection: DetectionSettings,
                     s3: S3Options) -> dict[str, Any]:
    """Constructor arguments for :class:`ItemHasher`, as plain data that crosses
    process boundaries."""
    return {"limits": dataclasses.asdict(limits), "detect": detect,
            "detection": json.loads(detection.model_dump_json()),
            "s3": dataclasses.asdict(s3)}
