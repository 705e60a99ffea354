"""Who may do what with victims' cases, by API key role.

Victims themselves have no key: their case number and PIN open their own case only.
"""

from __future__ import annotations

ADVOCATE = "victims:advocate"  # cases of the key's organisation, takedown requests
FEED = "victims:feed"  # pull the hash-exchange feed, send blocked/not-blocked feedback
ADMIN = "victims:admin"  # every organisation's cases; assign advocates to organisations

VICTIM_PERMISSIONS: dict[str, frozenset[str]] = {
    "read_only": frozenset(),
    "service": frozenset({FEED}),
    "reviewer": frozenset(),
    "investigator": frozenset(),
    "victim_advocate": frozenset({ADVOCATE}),
    "admin": frozenset({ADVOCATE, FEED, ADMIN}),
}


def victims_allowed(role: str, permission: str) -> bool:
    return permission in VICTIM_PERMISSIONS.get(role, frozenset())
