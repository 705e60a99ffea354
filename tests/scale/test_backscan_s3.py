"""Back-scan of an S3-compatible bucket. The store is moto's S3 server on a local port:
real S3 requests over HTTP (listing pages, HEAD, GET) without a cloud account."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_helpers import image_bytes
from sqlalchemy import select

from haechi.engine import Engine
from haechi.scale.backscan import BackscanOptions
from haechi.scale.models import BackscanItem
from haechi.scale.sources import S3Options, list_source

pytest.importorskip("moto", reason="needs moto[server] (pip install 'haechi[scale]')")
pytest.importorskip("boto3", reason="needs boto3 (pip install 'haechi[scale]')")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")


@pytest.fixture
def s3(ray_session: None) -> Iterator[tuple[str, Any]]:
    """A local S3 server holding bucket 'platform' with media under media/ and a log."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"  # dummy keys from ray_session
    client = S3Options(endpoint_url=endpoint).client()
    client.create_bucket(Bucket="platform")
    for i in range(5):
        client.put_object(Bucket="platform", Key=f"media/{2020 + i}/photo-{i}.jpg",
                          Body=image_bytes(i))
    client.put_object(Bucket="platform", Key="media/2030/broken.jpg",
                      Body=b"\xff\xd8\xff\xe0" + bytes(300))
    client.put_object(Bucket="platform", Key="logs/access.log", Body=b"not media")
    yield endpoint, client
    server.stop()


def test_bucket_prefix_is_listed_in_order_hashed_on_ray_and_matched(
        engine: Engine, s3: tuple[str, Any]) -> None:
    endpoint, _ = s3
    listed = list(list_source("s3://platform/media/", S3Options(endpoint_url=endpoint)))
    assert listed == sorted(listed) and len(listed) == 6
    assert all(u.startswith("s3://platform/media/") for u in listed)

    engine.create_bank("known")
    engine.add_media("known", image_bytes(2))
    report = engine.scale.backscan.run(BackscanOptions(
        source="s3://platform/media/", job="bucket", workers=2, batch_size=2,
        endpoint_url=endpoint))
    assert (report.done, report.errors, report.matched) == (6, 1, 1)
    with engine.db.session() as s:
        items = {r.uri: r for r in s.scalars(select(BackscanItem))}
    hit = items["s3://platform/media/2022/photo-2.jpg"]
    assert hit.action == "block" and hit.match_count == 3  # sha256, md5 and pdq
    assert items["s3://platform/media/2030/broken.jpg"].error_code in (
        "corrupt_media", "truncated_media")
    expected = {h.signal: h.value for h in engine.hash_bytes(image_bytes(0)).hashes}
    assert items["s3://platform/media/2020/photo-0.jpg"].pdq == expected["pdq"]


def test_list_file_of_s3_uris_records_missing_objects(
        engine: Engine, s3: tuple[str, Any], tmp_path: Path) -> None:
    endpoint, _ = s3
    listing = tmp_path / "uris.txt"
    listing.write_text("s3://platform/media/2021/photo-1.jpg\ns3://platform/media/nope.jpg\n")
    report = engine.scale.backscan.run(BackscanOptions(
        source=str(listing), job="uris", workers=0, endpoint_url=endpoint))
    assert (report.done, report.errors) == (2, 1)
    with engine.db.session() as s:
        missing = s.scalar(select(BackscanItem).where(
            BackscanItem.uri == "s3://platform/media/nope.jpg"))
    assert missing is not None and missing.error_code == "missing_file"
