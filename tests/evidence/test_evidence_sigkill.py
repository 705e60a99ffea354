"""SIGKILL during an import never leaves a half-written item visible or a log that fails
verification, and running the import again completes it.

A child process imports a Telegram export and is killed: in the middle of writing a
blob, after a blob is durable but before its row is committed, and at an arbitrary
moment of the batch. The parent then verifies the store, resumes and verifies again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from evidence_helpers import KEK, kek_env, keyring, make_telegram_export

from haechi.engine import Engine
from haechi.evidence import EvidenceService
from haechi.evidence.keys import load_signing_key
from haechi.evidence.note import Signer
from haechi.evidence.service import SIGNING_KEY_FILE
from haechi.evidence.telegram import import_telegram
from haechi.evidence.verify_store import verify_store

PHOTOS = 12
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from haechi.engine import Engine
    from haechi.evidence import EvidenceService, vault
    from haechi.evidence.telegram import import_telegram

    data_dir, export, mode, at = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    writes = 0
    real_write = vault.write_atomic

    def write_atomic(path, data, tmp_dir=None):
        global writes
        writes += 1
        if mode == "mid-write" and writes == at:
            with open(tmp_dir / ".half-written.tmp", "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
            print("KILL", flush=True)
            time.sleep(120)
        real_write(path, data, tmp_dir)
        if mode == "blob-durable" and writes == at:
            print("KILL", flush=True)
            time.sleep(120)

    vault.write_atomic = write_atomic
    done = 0

    def progress(outcome):
        global done
        done += 1
        print("item", outcome.status, flush=True)
        if mode == "anywhere" and done == at:
            print("KILL", flush=True)

    engine = Engine(data_dir=data_dir)
    import_telegram(EvidenceService(engine), export, actor="child", progress=progress)
    print("FINISHED", flush=True)
""")


def run_and_kill(tmp_path: Path, export: Path, mode: str, at: int) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, HAECHI_VAULT_KEY=kek_env(KEK))
    env.pop("HAECHI_DATABASE_URL", None)
    with subprocess.Popen([sys.executable, str(script), str(tmp_path / "data"), str(export),
                           mode, str(at)], stdout=subprocess.PIPE, text=True,
                          env=env) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "KILL":
                os.kill(child.pid, signal.SIGKILL)
                break
            assert line.strip() != "FINISHED", "the child finished before it was killed"
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize(("mode", "at"), [("mid-write", 5), ("blob-durable", 7),
                                          ("anywhere", 4)])
def test_sigkill_mid_import_then_verify_and_resume(tmp_path: Path, mode: str, at: int) -> None:
    export = make_telegram_export(tmp_path / "export", PHOTOS)
    run_and_kill(tmp_path, export, mode, at)

    engine = Engine(data_dir=tmp_path / "data")
    try:
        signer = Signer("haechi.local/evidence", load_signing_key(
            tmp_path / "data" / "vault" / SIGNING_KEY_FILE))
        evidence = EvidenceService(engine, keys=keyring(), signer=signer)
        report = verify_store(evidence)
        assert report.ok, report.findings
        visible = report.items_checked
        assert 0 < visible < PHOTOS + 1, "killed mid-way: some but not all items"
        if mode != "anywhere":
            assert report.notes, "the interrupted write left a file that verify points out"
        # Every visible item opens; nothing half-written is visible.
        items, _ = evidence.list_items(limit=1000)
        for item in items:
            assert len(evidence.view(item.id, actor="check")[0]) == item.size

        resumed = import_telegram(evidence, export, actor="resume")
        assert resumed.imported == PHOTOS + 1 - visible
        assert resumed.duplicates == visible
        final = verify_store(evidence)
        assert final.ok, final.findings
        assert final.items_checked == PHOTOS + 1
    finally:
        engine.close()
