"""Case numbers, PINs and the throttle on guessing them.

The PIN is shown once and kept only as an argon2id hash. Failed guesses are counted on
the case row, in the database, so the throttle holds across processes and replicas: after
``FREE_TRIES`` consecutive misses the case locks for a minute, then twice as long after
each further miss, up to a day. A locked case refuses even the right PIN until it unlocks.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from haechi.errors import HaechiError
from haechi.victims.models import VictimCase

#: No 0/O, 1/I/L: read aloud and copied by hand without mistakes.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
NUMBER_LENGTH = 10
PIN_LENGTH = 8
FREE_TRIES = 5
MAX_LOCK = timedelta(days=1)

_hasher = PasswordHasher()
#: Verified against for unknown case numbers, so a miss takes as long either way.
_DUMMY_HASH = _hasher.hash("no case has this pin")


class CaseAccessDenied(HaechiError):
    """Unknown case number or wrong PIN: deliberately the same answer for both."""

    code = "case_not_found"
    http_status = 404


class CaseLocked(HaechiError):
    code = "too_many_attempts"
    http_status = 429


def new_number() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(NUMBER_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def new_pin() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(PIN_LENGTH))


def hash_pin(pin: str) -> str:
    return _hasher.hash(pin)


def normalise_number(text: str) -> str:
    raw = "".join(c for c in text.upper() if c.isalnum())
    if len(raw) != NUMBER_LENGTH or not set(ALPHABET).issuperset(raw):
        return ""
    return f"{raw[:5]}-{raw[5:]}"


def normalise_pin(text: str) -> str:
    return "".join(c for c in text.upper() if c.isalnum())[:50]


def lock_for(failures: int) -> timedelta:
    if failures < FREE_TRIES:
        return timedelta(0)
    lock: timedelta = timedelta(minutes=1) * 2 ** min(failures - FREE_TRIES, 20)
    return min(lock, MAX_LOCK)


def check(row: VictimCase | None, pin: str, now: datetime) -> HaechiError | None:
    """None when ``pin`` opens ``row``; else the error to raise once the caller has
    committed the updated failure count (raising inside the transaction would undo it)."""
    if row is not None and row.locked_until is not None and row.locked_until > now:
        wait = int((row.locked_until - now).total_seconds()) + 1
        return CaseLocked(f"too many wrong PINs for this case; try again in {wait} s")
    try:
        _hasher.verify(row.pin_hash if row is not None else _DUMMY_HASH, normalise_pin(pin))
        ok = row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if row is not None:
            row.failed_pins += 1
            lock = lock_for(row.failed_pins)
            row.locked_until = now + lock if lock else None
        return CaseAccessDenied("no case with this number and PIN")
    assert row is not None
    row.failed_pins, row.locked_until = 0, None
    return None
