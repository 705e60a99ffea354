"""Moderation: policy, enforcement, review queue, appeals, notices and webhooks.

Start with :class:`ModerationService` and its ``moderate_upload``.
"""

from haechi.moderation.policy import (
    CompiledPolicy,
    PolicyDecision,
    PolicyError,
    PolicyInput,
    load_policy,
    parse_policy,
)
from haechi.moderation.service import ModerationService

__all__ = ["CompiledPolicy", "ModerationService", "PolicyDecision", "PolicyError",
           "PolicyInput", "load_policy", "parse_policy"]
