"""The CLI end to end, in-process, against a temporary data folder (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures_media import encode, make_image, mirror, resize
from haechi.cli.main import app

runner = CliRunner()


def run(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--data-dir", str(data), *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    (folder / "sub").mkdir(parents=True)
    original = make_image(21, (400, 300))
    (folder / "known.png").write_bytes(encode(original, "png"))
    (folder / "sub" / "copy.jpg").write_bytes(encode(mirror(resize(original, 0.6)), "jpeg"))
    (folder / "sub" / "other.jpg").write_bytes(encode(make_image(22, (400, 300)), "jpeg"))
    (folder / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    return folder


def test_bank_lifecycle_and_scan(tmp_path: Path, media: Path) -> None:
    data = tmp_path / "data"
    run(data, "bank", "create", "known", "--description", "confirmed")
    out = run(data, "bank", "add", "known", str(media / "known.png"), "--category", "synthetic")
    assert "added 3 entries" in out
    lines = run(data, "scan", "--json", str(media / "sub")).splitlines()
    results = {Path(r["name"]).name: r for r in map(json.loads, lines)}
    assert results["copy.jpg"]["decision"] == "block"
    assert results["copy.jpg"]["matches"][0]["transform"] == "mirror"
    assert results["other.jpg"]["decision"] == "allow"
    assert results["broken.jpg"]["decision"] == "error"
    assert results["broken.jpg"]["error"]["code"] in {"corrupt_media", "truncated_media"}
    run(data, "scan", "--fail-on-match", str(media / "sub" / "copy.jpg"), code=1)
    run(data, "scan", "--fail-on-match", str(media / "sub" / "other.jpg"))
    run(data, "scan", "--fail-on-error", str(media / "sub" / "broken.jpg"), code=3)
    table = run(data, "scan", str(media / "sub" / "copy.jpg"))
    assert "block" in table


def test_disable_enable_and_delete(tmp_path: Path, media: Path) -> None:
    data = tmp_path / "data"
    run(data, "bank", "create", "known")
    run(data, "bank", "add", "known", str(media / "known.png"))
    rows = [json.loads(x) for x in run(data, "bank", "show", "known", "--json").splitlines()]
    ids = [r["id"] for r in rows[1:]]
    assert rows[0]["entry_count"] == 3 and len(ids) == 3
    copy = str(media / "sub" / "copy.jpg")
    run(data, "bank", "disable", *map(str, ids))
    run(data, "scan", "--fail-on-match", copy)
    run(data, "bank", "enable", *map(str, ids))
    run(data, "scan", "--fail-on-match", copy, code=1)
    run(data, "bank", "delete", "known", code=2)  # needs --yes
    run(data, "bank", "delete", "known", "--yes")
    run(data, "scan", "--fail-on-match", copy)


def test_import_export_roundtrip_between_formats(tmp_path: Path, media: Path) -> None:
    data = tmp_path / "data"
    run(data, "bank", "create", "a")
    run(data, "bank", "add", "a", str(media / "known.png"), "--source", "hotline")
    for fmt in ("threatexchange", "csv", "jsonl"):
        exported = tmp_path / f"a.{fmt}"
        run(data, "bank", "export", "a", "--format", fmt, "-o", str(exported))
        run(data, "bank", "create", f"b-{fmt}")
        out = run(data, "bank", "import", f"b-{fmt}", str(exported), "--format", fmt)
        assert "imported 3 entries" in out
    pytx = (tmp_path / "a.threatexchange").read_text().splitlines()
    assert sorted(line.split(" ")[0] for line in pytx) == ["pdq", "video_md5", "video_sha256"]
    csv_rows = (tmp_path / "a.csv").read_text().splitlines()
    assert csv_rows[0].startswith("signal,value,quality,source")
    assert all("hotline" in row for row in csv_rows[1:])


def test_import_with_a_bad_line_adds_nothing_unless_told(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "bank", "create", "a")
    src = tmp_path / "list.txt"
    src.write_text(f"pdq {'a' * 64}\npdq nothex\nvideo_md5 {'b' * 32}\n")
    out = run(data, "bank", "import", "a", str(src), code=2)
    assert "line 2" in out
    assert json.loads(run(data, "bank", "list", "--json"))["entry_count"] == 0
    run(data, "bank", "import", "a", str(src), "--skip-invalid")
    assert json.loads(run(data, "bank", "list", "--json"))["entry_count"] == 2


def test_hash_prints_reference_compatible_values(tmp_path: Path, media: Path) -> None:
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

    out = run(tmp_path / "data", "hash", "--threatexchange", str(media / "known.png"))
    values = dict(line.split(" ", 1) for line in out.splitlines())
    assert values["pdq"] == pdq_from_file(media / "known.png")[0]


def test_raw_hash_and_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "bank", "create", "a")
    run(data, "bank", "add", "a", "--hash", f"pdq:{'c' * 64}")
    out = run(data, "bank", "add", "a", "--hash", "pdq:xyz", code=2)
    assert "invalid_hash" in out
    out = run(data, "bank", "add", "missing", "--hash", f"pdq:{'c' * 64}", code=2)
    assert "not_found" in out


def test_api_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = run(data, "key", "create", "platform-x", "--role", "service").splitlines()[-1]
    assert key.startswith("hk_")
    listing = run(data, "key", "list")
    assert "platform-x" in listing and key not in listing
    run(data, "key", "revoke", "1")
    assert "revoked" in run(data, "key", "list")
    run(data, "key", "create", "bad", "--role", "superuser", code=2)


def test_demo(tmp_path: Path) -> None:
    out = run(tmp_path / "data", "demo")
    assert "5 of 5 edited re-uploads blocked" in out
    assert "unrelated image was allowed" in out


def test_index_status_save_and_rebuild(tmp_path: Path, media: Path) -> None:
    data = tmp_path / "data"
    run(data, "bank", "create", "known")
    run(data, "bank", "add", "known", str(media / "known.png"))
    status = json.loads(run(data, "index", "status"))
    assert status["index"]["pdq_entries"] == 1 and status["database"] == "sqlite"
    saved = json.loads(run(data, "index", "save"))
    assert saved["saved_seq"] == saved["seq"] >= 1
    # Damage the files: a rebuild from the store restores matching.
    for f in (data / "index" / "pdq").glob("*.npy"):
        f.write_bytes(b"garbage")
    rebuilt = json.loads(run(data, "index", "rebuild"))
    assert rebuilt["loaded_from"] == "store" and rebuilt["pdq_entries"] == 1
    assert json.loads(run(data, "index", "status"))["index"]["loaded_from"] == "files"
    run(data, "scan", "--fail-on-match", str(media / "sub" / "copy.jpg"), code=1)
