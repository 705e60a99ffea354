"""Beyond one machine: back-scans of stored media (on Ray), retro-hunts of new bank
entries through stored hashes, and what keeps API replicas consistent."""

from haechi.scale.backscan import BackscanOptions, BackscanReport, BackscanService
from haechi.scale.retrohunt import RetrohuntReport, RetrohuntService, RetrohuntStatus
from haechi.scale.service import ScaleService

__all__ = ["BackscanOptions", "BackscanReport", "BackscanService", "RetrohuntReport",
           "RetrohuntService", "RetrohuntStatus", "ScaleService"]
