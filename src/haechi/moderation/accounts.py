"""Accounts for the reviewer pages: argon2id passwords, sessions with CSRF tokens.

A session cookie holds a random token; the database keeps only its SHA-256, so a leaked
database does not let anyone in. Each session has its own CSRF token, which every
state-changing form must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haechi.errors import ConflictError, HaechiError, InvalidRequestError, NotFoundError
from haechi.moderation.models import ModAccount, ModSession
from haechi.moderation.records import aware

ROLES = ("admin", "reviewer", "investigator", "victim_advocate", "service")
SESSION_LIFETIME = timedelta(hours=8)
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
#: Verified against for unknown usernames, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class LoginFailed(HaechiError):
    code = "login_failed"
    http_status = 401


class AccountInfo(BaseModel):
    id: int
    username: str
    role: str
    can_reveal: bool
    disabled: bool


@dataclass(frozen=True)
class SessionInfo:
    account: AccountInfo
    csrf_token: str


def account_info(row: ModAccount) -> AccountInfo:
    return AccountInfo(id=row.id, username=row.username, role=row.role,
                       can_reveal=row.can_reveal or row.role == "admin",
                       disabled=row.disabled)


def create(s: Session, *, username: str, password: str, role: str,
           can_reveal: bool) -> AccountInfo:
    if role not in ROLES:
        raise InvalidRequestError(f"role must be one of {', '.join(ROLES)}")
    if not 1 <= len(username) <= 100 or not username.replace("-", "").replace(
            "_", "").replace(".", "").isalnum():
        raise InvalidRequestError("a username is 1-100 letters, digits, '-', '_' or '.'")
    if len(password) < 12 or len(password) > 1000:
        raise InvalidRequestError("a password has 12 to 1000 characters")
    if s.scalar(select(ModAccount.id).where(ModAccount.username == username)) is not None:
        raise ConflictError(f"an account named {username!r} exists")
    row = ModAccount(username=username, password_hash=_hasher.hash(password), role=role,
                     can_reveal=can_reveal)
    s.add(row)
    s.flush()
    return account_info(row)


def login(s: Session, *, username: str, password: str, now: datetime) -> tuple[str,
                                                                             SessionInfo]:
    """A new session for the right password: (cookie token, session)."""
    row = s.scalar(select(ModAccount).where(ModAccount.username == username))
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise LoginFailed("wrong username or password") from None
    if row is None or row.disabled:
        raise LoginFailed("wrong username or password")
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    s.add(ModSession(token_hash=_digest(token), account_id=row.id, csrf_token=csrf,
                     created_at=now, expires_at=now + SESSION_LIFETIME))
    s.flush()
    return token, SessionInfo(account_info(row), csrf)


def session_for(s: Session, *, token: str, now: datetime) -> SessionInfo | None:
    if not token or len(token) > 100:
        return None
    found = s.execute(select(ModSession, ModAccount)
                      .join(ModAccount, ModAccount.id == ModSession.account_id)
                      .where(ModSession.token_hash == _digest(token))).first()
    if found is None:
        return None
    session, account = found
    if aware(session.expires_at) <= now or account.disabled:
        return None
    return SessionInfo(account_info(account), session.csrf_token)


def logout(s: Session, *, token: str) -> None:
    s.execute(delete(ModSession).where(ModSession.token_hash == _digest(token)))


def csrf_ok(session: SessionInfo, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token, submitted or "")


def set_reveal(s: Session, *, username: str, can_reveal: bool) -> AccountInfo:
    row = s.scalar(select(ModAccount).where(ModAccount.username == username))
    if row is None:
        raise NotFoundError(f"no account {username!r}")
    row.can_reveal = can_reveal
    return account_info(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
