"""Evidence: an encrypted, content-addressed vault of captures, cases, a Merkle-tree
custody log with signed checkpoints, verification and verifiable BagIt exports."""

from haechi.evidence.schemas import CaptureMetadata, CaseInfo, ItemInfo, VerifyReport
from haechi.evidence.service import EvidenceService

__all__ = ["CaptureMetadata", "CaseInfo", "EvidenceService", "ItemInfo", "VerifyReport"]
