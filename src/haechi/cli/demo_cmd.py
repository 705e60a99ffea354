"""``haechi demo``: bank a sample image, then scan edited re-uploads and an unrelated one."""

from __future__ import annotations

from pathlib import Path

import typer

from haechi.cli import output
from haechi.cli.context import engine
from haechi.results import EntryMetadata
from haechi.samples import encode, make_image, variants

DEMO_BANK = "demo-known-media"


def demo_command(ctx: typer.Context) -> None:
    """Show the whole loop on neutral generated images: a bank of one known image, and
    the decisions for its re-uploads (recompressed, resized, brightened, mirrored,
    rotated) and for an unrelated image. The sample files are left in DATA_DIR/demo."""
    with engine(ctx) as eng:
        folder = Path(eng.settings.data_dir) / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        known = make_image(1)
        (folder / "known.png").write_bytes(encode(known, "PNG"))
        if DEMO_BANK not in {b.name for b in eng.list_banks()}:
            eng.create_bank(DEMO_BANK, description="Demo: one generated sample image")
            eng.add_media(DEMO_BANK, (folder / "known.png").read_bytes(), name="known.png",
                          metadata=EntryMetadata(source="haechi demo", category="demo"))
        uploads = {f"reupload-{k}.jpg": v for k, v in variants(known).items()}
        uploads["unrelated.jpg"] = make_image(2)
        results = []
        for filename, img in uploads.items():
            path = folder / filename
            path.write_bytes(encode(img, "JPEG", quality=85))
            results.append(eng.scan_path(path))
    output.console.print(output.scan_table(results))
    blocked = sum(r.decision == "block" for r in results)
    output.console.print(
        f"{blocked} of {len(results) - 1} edited re-uploads blocked; the unrelated image was "
        f"{results[-1].decision}ed. Next: 'haechi key create me --role admin' and "
        "'haechi serve', then open http://127.0.0.1:8000/docs", highlight=False)
