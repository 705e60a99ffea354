"""Who may do what in moderation, by API key role (the roles of :mod:`haechi.auth`)."""

from __future__ import annotations

SUBMIT = "mod:submit"  # send uploads and users' appeals (the platform's service)
EVENTS = "mod:events"  # read the action feed
READ = "mod:read"  # users' histories, items, statements of reasons
REVIEW = "mod:review"  # the queue, decisions, appeals
NOTICES = "mod:notices"  # handle public notices
ADMIN = "mod:admin"  # webhooks

MOD_PERMISSIONS: dict[str, frozenset[str]] = {
    "read_only": frozenset(),
    "service": frozenset({SUBMIT, EVENTS}),
    "reviewer": frozenset({READ, REVIEW, NOTICES}),
    "investigator": frozenset({READ}),
    "victim_advocate": frozenset({NOTICES}),
    "admin": frozenset({SUBMIT, EVENTS, READ, REVIEW, NOTICES, ADMIN}),
}


def mod_allowed(role: str, permission: str) -> bool:
    return permission in MOD_PERMISSIONS.get(role, frozenset())
