"""Where a back-scan's items come from: a folder tree, a list of paths/URIs, or an
S3-compatible bucket prefix; and how one item's bytes are read.

Listings are deterministic (sorted paths; S3 lists keys in byte order), so a resumed
job walks the same items in the same order and skips the recorded ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from haechi.errors import InvalidRequestError, MediaError

#: Longest URI accepted in a listing.
MAX_URI = 4096


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3-compatible store; credentials come from the usual AWS
    environment variables or files, never from here."""

    endpoint_url: str | None = None
    region: str | None = None

    def client(self) -> Any:
        try:
            import boto3
        except ImportError as exc:
            raise InvalidRequestError(
                "reading s3:// needs boto3: pip install 'haechi[scale]'") from exc
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)


def list_source(source: str, s3: S3Options | None = None) -> Iterator[str]:
    """Every item URI of ``source``, in a stable order."""
    if source.startswith("s3://"):
        yield from _list_s3(source, s3 or S3Options())
        return
    path = Path(source[len("file://"):] if source.startswith("file://") else source)
    if path.is_dir():
        yield from _walk(path)
    elif path.is_file():
        yield from _list_file(path)
    else:
        raise InvalidRequestError(f"{source} is neither a folder, a list file nor s3://...")


def _walk(root: Path) -> Iterator[str]:
    # os.walk with sorted names: deterministic, and it never holds the whole tree.
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield str(Path(folder, name).resolve())


def _list_file(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            uri = line.strip()
            if not uri or uri.startswith("#"):
                continue
            if len(uri) > MAX_URI:
                raise InvalidRequestError(f"{path}:{number}: the URI is over {MAX_URI} "
                                          "characters")
            if "://" in uri and not uri.startswith(("file://", "s3://")):
                raise InvalidRequestError(f"{path}:{number}: only paths, file:// and s3:// "
                                          f"URIs are read, got {uri[:80]!r}")
            yield uri


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if not parsed.netloc:
        raise InvalidRequestError(f"{uri}: an S3 URI is s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def _list_s3(source: str, s3: S3Options) -> Iterator[str]:
    bucket, prefix = _split_s3(source)
    client = s3.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    yield f"s3://{bucket}/{obj['Key']}"
    except Exception as exc:  # botocore's errors share no importable base worth naming
        raise InvalidRequestError(f"listing {source} failed: {exc}") from exc


class Reader:
    """Reads one item, refusing it before download when it is over the byte limit."""

    def __init__(self, max_bytes: int, s3: S3Options | None = None) -> None:
        self.max_bytes = max_bytes
        self.s3 = s3 or S3Options()
        self._client: Any = None

    def read(self, uri: str) -> bytes:
        if uri.startswith("s3://"):
            return self._read_s3(uri)
        path = Path(unquote(uri[len("file://"):]) if uri.startswith("file://") else uri)
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                raise _too_large(size, self.max_bytes)
            return path.read_bytes()
        except OSError as exc:
            code = "missing_file" if isinstance(exc, FileNotFoundError) else "unreadable_file"
            raise MediaError(f"cannot read {uri}: {exc.strerror or exc}", code=code) from exc

    def _read_s3(self, uri: str) -> bytes:
        if self._client is None:
            self._client = self.s3.client()
        bucket, key = _split_s3(uri)
        try:
            head = self._client.head_object(Bucket=bucket, Key=key)
            if head["ContentLength"] > self.max_bytes:
                raise _too_large(head["ContentLength"], self.max_bytes)
            body: bytes = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        except MediaError:
            raise
        except Exception as exc:
            code = "missing_file" if "404" in str(exc) or "NoSuchKey" in str(exc) \
                else "unreadable_file"
            raise MediaError(f"cannot read {uri}: {exc}", code=code) from exc


def _too_large(size: int, limit: int) -> MediaError:
    return MediaError(f"the file has {size} bytes; the limit is {limit}", code="too_large")
