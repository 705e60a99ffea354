"""Accounts: argon2id hashes, logins, session expiry, CSRF tokens, the audit log."""

from __future__ import annotations

import pytest
from moderation_helpers import Clock
from sqlalchemy import select

from haechi.engine import Engine
from haechi.errors import ConflictError, InvalidRequestError
from haechi.moderation import ModerationService
from haechi.moderation.accounts import LoginFailed, csrf_ok
from haechi.moderation.models import ModAccount, ModSession

PASSWORD = "correct horse battery"


def test_passwords_are_argon2id_and_sessions_hashed(mod: ModerationService,
                                                    engine: Engine) -> None:
    mod.accounts.create(username="alice", password=PASSWORD, role="reviewer")
    token, session = mod.accounts.login(username="alice", password=PASSWORD)
    with engine.db.session() as s:
        stored = s.scalar(select(ModAccount.password_hash))
        token_hash = s.scalar(select(ModSession.token_hash))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert token_hash is not None and token not in token_hash
    found = mod.accounts.session(token=token)
    assert found is not None and found.account.username == "alice"
    assert not found.account.can_reveal
    assert csrf_ok(found, session.csrf_token) and not csrf_ok(found, "x")
    assert not csrf_ok(found, None)
    assert [e.action for e in mod.audit_log()] == ["login"]


def test_wrong_password_unknown_user_and_bad_accounts(mod: ModerationService) -> None:
    mod.accounts.create(username="bob", password=PASSWORD, role="admin")
    for user, password in (("bob", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(LoginFailed):
            mod.accounts.login(username=user, password=password)
    with pytest.raises(ConflictError):
        mod.accounts.create(username="bob", password=PASSWORD, role="admin")
    with pytest.raises(InvalidRequestError):
        mod.accounts.create(username="carl", password="short", role="reviewer")
    with pytest.raises(InvalidRequestError):
        mod.accounts.create(username="carl", password=PASSWORD, role="superuser")
    with pytest.raises(InvalidRequestError):
        mod.accounts.create(username="c a r l", password=PASSWORD, role="reviewer")


def test_sessions_expire_and_log_out(mod: ModerationService, clock: Clock) -> None:
    mod.accounts.create(username="dana", password=PASSWORD, role="investigator")
    token, _ = mod.accounts.login(username="dana", password=PASSWORD)
    clock.advance(hours=7)
    assert mod.accounts.session(token=token) is not None
    clock.advance(hours=2)
    assert mod.accounts.session(token=token) is None
    token, _ = mod.accounts.login(username="dana", password=PASSWORD)
    mod.accounts.logout(token=token)
    assert mod.accounts.session(token=token) is None


def test_reveal_right_is_granted_and_audited(mod: ModerationService) -> None:
    mod.accounts.create(username="erin", password=PASSWORD, role="reviewer")
    info = mod.accounts.set_reveal(username="erin", can_reveal=True, actor="boss")
    assert info.can_reveal
    assert [(e.actor, e.action, e.target) for e in mod.audit_log()] == [
        ("boss", "grant_reveal", "erin")]
