"""The region hashes kept with each bank entry (image entries added from media)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.models import Base


class EntryRegion(Base):
    """One hashed window of a banked image: which slot, where, its PDQ hash.

    Boxes are in the banked image's pixels; ``content`` boxes (slot 0) say where the
    picture was once borders and bars were trimmed, which the face check uses.
    """

    __tablename__ = "entry_regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("bank_entries.id", ondelete="CASCADE"), index=True)
    slot: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int] = mapped_column(Integer)
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)


class EntryKeypoints(Base):
    """The keypoints of a banked image (``regions.keypoints.Keypoints.to_bytes``):
    about 9 KB per entry, read back only for the few candidates a scan verifies."""

    __tablename__ = "entry_keypoints"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("bank_entries.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
