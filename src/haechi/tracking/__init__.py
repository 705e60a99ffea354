"""Tracking: map who makes and who spreads abusive media, and where it goes.

Ingest chat exports (Telegram Desktop, Bot API logs, CSV), link media that are the same
content, analyse clusters, users, rooms and the network, and report it all.
"""

from haechi.tracking.service import TrackingService

__all__ = ["TrackingService"]
