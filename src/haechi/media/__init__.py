"""Media intake: recognise, bound and decode uploaded files without trusting them."""

from haechi.media.intake import Media, MediaKind, load_media
from haechi.media.limits import Limits

__all__ = ["Limits", "Media", "MediaKind", "load_media"]
