"""Held uploads' bytes, encrypted at rest (AES-256-GCM), kept until the item is decided.

The key comes from ``HAECHI_MODERATION_MEDIA_KEY`` (32 bytes, URL-safe base64) or, when
unset, from a key file created once in the data folder with owner-only permissions.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete
from sqlalchemy.orm import Session

from haechi.errors import HaechiError, NotFoundError
from haechi.moderation.models import ModHeldMedia

KEY_FILE = "moderation-media.key"
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                 "webp": "image/webp", "bmp": "image/bmp", "tiff": "image/tiff",
                 "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"}


def load_key(configured: str | None, data_dir: Path) -> bytes:
    if configured:
        key = base64.urlsafe_b64decode(configured + "=" * (-len(configured) % 4))
        if len(key) != 32:
            raise HaechiError("HAECHI_MODERATION_MEDIA_KEY must be 32 bytes in base64",
                              code="bad_media_key")
        return key
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return load_key(path.read_text().strip(), data_dir)


def store(s: Session, *, item_id: int, data: bytes, media_format: str, key: bytes) -> None:
    nonce = secrets.token_bytes(12)
    # The item id is bound as associated data: a ciphertext moved to another row fails.
    ciphertext = AESGCM(key).encrypt(nonce, data, str(item_id).encode())
    s.add(ModHeldMedia(item_id=item_id, nonce=nonce, ciphertext=ciphertext,
                       content_type=CONTENT_TYPES.get(media_format.lower(),
                                                      "application/octet-stream")))


def load(s: Session, *, item_id: int, key: bytes) -> tuple[bytes, str]:
    row = s.get(ModHeldMedia, item_id)
    if row is None:
        raise NotFoundError(f"no held media for item {item_id} (decided items keep none)")
    data = AESGCM(key).decrypt(row.nonce, row.ciphertext, str(item_id).encode())
    return data, row.content_type


def discard(s: Session, *, item_id: int) -> None:
    s.execute(delete(ModHeldMedia).where(ModHeldMedia.item_id == item_id))
