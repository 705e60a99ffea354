"""Hash exchange between organisations: a signed feed other instances pull by checkpoint.

The feed is a C2SP signed note (Ed25519, :mod:`haechi.evidence.note`) whose text is::

    haechi victims feed v1
    origin <name>
    after <seq>
    through <seq>
    <seq> <add|withdraw|delete> <case number> <signal> <value|-> <quality|-> <minor 0|1>
    ...

A puller keeps ``through`` as its checkpoint and asks for what came after it; applying a
page and moving the checkpoint happen in one transaction, so a page is applied once. A
withdrawal or deletion upstream disables or deletes the entries downstream, so a
withdrawn hash stops matching there too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from pydantic import BaseModel
from sqlalchemy import func, select

from haechi.errors import ConflictError, HaechiError, InvalidRequestError, NotFoundError
from haechi.evidence.note import Signer, Verifier, open_note
from haechi.moderation import audit
from haechi.signals import get_signal
from haechi.victims.feed import OPS
from haechi.victims.models import VictimCase, VictimFeedItem, VictimHash, VictimPeer

if TYPE_CHECKING:
    from haechi.victims.service import VictimsService

HEADER = "haechi victims feed v1"
MAX_PAGE = 5000


class FeedError(HaechiError):
    code = "invalid_feed"
    http_status = 422


class PullReport(BaseModel):
    peer: str
    applied: int
    checkpoint: int


class FeedLine(BaseModel):
    seq: int
    op: str
    case_number: str
    signal: str
    value: str
    quality: int | None
    minor: bool


def load_signer(key_file: Path, name: str) -> Signer:
    """The feed's signing key, made (mode 0600) on first use."""
    if key_file.exists():
        key = load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise FeedError(f"{key_file} is not an Ed25519 private key")
        return Signer(name, key)
    key = Ed25519PrivateKey.generate()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return Signer(name, key)


def parse_feed(text: str) -> tuple[str, int, int, list[FeedLine]]:
    lines = text.rstrip("\n").split("\n")
    try:
        if lines[0] != HEADER:
            raise ValueError("unknown header")
        origin = lines[1].removeprefix("origin ")
        after = int(lines[2].removeprefix("after "))
        through = int(lines[3].removeprefix("through "))
        items = []
        for line in lines[4:]:
            seq, op, number, signal, value, quality, minor = line.split(" ")
            if op not in OPS:
                raise ValueError(f"unknown op {op!r}")
            items.append(FeedLine(seq=int(seq), op=op, case_number=number, signal=signal,
                                  value="" if value == "-" else value,
                                  quality=None if quality == "-" else int(quality),
                                  minor=minor == "1"))
    except (IndexError, ValueError) as exc:
        raise FeedError(f"not a victims feed: {exc}") from None
    return origin, after, through, items


class Exchange:
    def __init__(self, service: VictimsService) -> None:
        self._svc = service
        self._signer: Signer | None = None

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            settings = self._svc.settings
            path = settings.feed_key_file or (self._svc.engine.settings.data_dir /
                                              "victims-feed-key.pem")
            self._signer = load_signer(path, settings.feed_origin)
        return self._signer

    def vkey(self) -> str:
        """The verifier key a peer needs to trust this feed."""
        return self.signer.verifier.vkey()

    def feed(self, *, after: int = 0, limit: int = 1000) -> str:
        """The signed page of changes after sequence ``after``."""
        if after < 0 or not 1 <= limit <= MAX_PAGE:
            raise InvalidRequestError(f"after >= 0 and limit 1..{MAX_PAGE}")
        with self._svc.engine.db.session() as s:
            rows = s.scalars(select(VictimFeedItem).where(VictimFeedItem.seq > after)
                             .order_by(VictimFeedItem.seq).limit(limit)).all()
        through = rows[-1].seq if rows else after
        text = [HEADER, f"origin {self.signer.name}", f"after {after}", f"through {through}"]
        text += [f"{r.seq} {r.op} {r.case_number} {r.signal} {r.value or '-'} "
                 f"{'-' if r.quality is None else r.quality} {int(r.minor)}" for r in rows]
        return self.signer.sign("\n".join(text) + "\n")

    def add_peer(self, *, name: str, vkey: str, actor: str) -> None:
        verifier = Verifier.from_vkey(vkey)
        if verifier.name != name:
            raise InvalidRequestError(f"the key is for {verifier.name!r}, not {name!r}")
        with self._svc.engine.db.session() as s:
            if s.scalar(select(VictimPeer.id).where(VictimPeer.name == name)) is not None:
                raise ConflictError(f"a peer named {name!r} exists")
            s.add(VictimPeer(name=name, vkey=vkey.strip()))
            audit.record(s, actor=actor, action="victim_peer_add", target=name,
                         now=self._svc.now())

    def pull(self, *, peer: str, fetch: Callable[[int], str]) -> PullReport:
        """Fetch pages after the peer's checkpoint (``fetch(after)`` returns the signed
        note) and apply them until a page brings nothing new."""
        applied = 0
        while True:
            with self._svc.engine.db.session() as s:
                row = s.scalar(select(VictimPeer).where(VictimPeer.name == peer))
                if row is None:
                    raise NotFoundError(f"no exchange peer {peer!r}")
                checkpoint, vkey = row.checkpoint, row.vkey
            text = open_note(fetch(checkpoint), Verifier.from_vkey(vkey))
            origin, after, through, items = parse_feed(text)
            if origin != peer or after != checkpoint:
                raise FeedError(f"the feed is from {origin!r} after {after}; expected "
                                f"{peer!r} after {checkpoint}")
            if not items:
                return PullReport(peer=peer, applied=applied, checkpoint=checkpoint)
            self._apply(peer, checkpoint, through, items)
            applied += len(items)

    def pull_url(self, *, peer: str, url: str, api_key: str) -> PullReport:
        base = url.rstrip("/")
        with httpx.Client(timeout=30.0) as client:
            def fetch(after: int) -> str:
                reply = client.get(f"{base}/v1/victims/feed", params={"after": after},
                                   headers={"Authorization": f"Bearer {api_key}"})
                if reply.status_code != 200:
                    raise FeedError(f"the peer answered {reply.status_code}: {reply.text[:200]}")
                return reply.text

            return self.pull(peer=peer, fetch=fetch)

    def _apply(self, peer: str, checkpoint: int, through: int, items: list[FeedLine]) -> None:
        from haechi.victims.records import end_case, link_entries

        self._svc.ensure_bank()
        now = self._svc.now()
        with self._svc.engine.db.session() as s:
            row = s.scalar(select(VictimPeer).where(VictimPeer.name == peer).with_for_update())
            if row is None or row.checkpoint != checkpoint:
                return  # another puller applied this page meanwhile
            for item in items:
                case = s.scalar(select(VictimCase).where(VictimCase.number == item.case_number))
                if case is not None and case.origin != peer:
                    continue  # a number of ours, or another peer's: never touched
                if item.op == "add":
                    value = get_signal(item.signal).parse(item.value)
                    if case is None:
                        case = VictimCase(number=item.case_number, pin_hash="", status="active",
                                          minor=item.minor, priority=0 if item.minor else 2,
                                          organisation=self._svc.settings.organisation,
                                          origin=peer, created_at=now, updated_at=now)
                        s.add(case)
                        s.flush()
                    case.status, case.updated_at = "active", now
                    known = s.scalar(select(VictimHash.id).where(
                        VictimHash.case_id == case.id, VictimHash.signal == item.signal,
                        VictimHash.value == value))
                    if known is None:
                        n = s.scalar(select(func.count()).where(VictimHash.case_id == case.id))
                        h = VictimHash(case_id=case.id, item=n or 0,
                                       kind="video" if item.signal == "vpdq" else "image",
                                       signal=item.signal, value=value, quality=item.quality)
                        s.add(h)
                        s.flush()
                        link_entries(s, [h], case)
                elif case is None or case.status == "deleted":
                    continue
                elif item.op == "delete":
                    end_case(s, case, "deleted", now)
                elif case.status in ("received", "active"):
                    end_case(s, case, "withdrawn", now)
            row.checkpoint, row.pulled_at = through, now
        self._svc.engine.indexes.refresh(force=True)
