"""Victims: cases opened with hashes made on the victim's own device, their status and
withdrawal, what was blocked, takedown requests and hash exchange between organisations.

Start with :class:`VictimsService` and its ``submit``; the hashing page is
``static/hash.html``.
"""

from haechi.victims.records import VICTIMS_BANK
from haechi.victims.service import VictimsService

__all__ = ["VICTIMS_BANK", "VictimsService"]
