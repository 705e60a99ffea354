"""Who may read and change tracking data.

Tracking data names suspects, so it is never anonymous and never part of ``banks:read``:
the investigator and admin roles hold these permissions (see :mod:`haechi.auth`).
"""

from __future__ import annotations

TRACKING_READ = "tracking:read"
TRACKING_WRITE = "tracking:write"
