"""Statements of reasons (EU DSA art. 17) in the EU Transparency Database's fields.

Field names and values follow the database's API for submitting statements, so an
export can be sent there with a platform's own identifiers added.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.moderation.models import ModItem, ModStatement
from haechi.moderation.records import aware

#: Our categories to the Transparency Database's statement categories and keywords.
_CATEGORIES: dict[str, tuple[str, list[str]]] = {
    "synthetic_sexual": ("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
                         ["KEYWORD_NON_CONSENSUAL_ITEMS_DEEPFAKE"]),
    "known_abusive_media": ("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
                            ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]),
    "ncii": ("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
             ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]),
    "possible_minor": ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
                       ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]),
    "csam": ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
             ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]),
    "adult_content": ("STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT", []),
}
#: Categories whose content is synthetic media (deepfakes).
SYNTHETIC_CATEGORIES = frozenset({"synthetic_sexual", "synthetic", "deepfake"})
_DEFAULT_CATEGORY: tuple[str, list[str]] = ("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR", [])


def content_types(media_kind: str, synthetic: bool) -> list[str]:
    types = {"image": ["CONTENT_TYPE_IMAGE"], "video": ["CONTENT_TYPE_VIDEO"]}.get(
        media_kind, ["CONTENT_TYPE_OTHER"])
    return [*types, "CONTENT_TYPE_SYNTHETIC_MEDIA"] if synthetic else types


def record(s: Session, *, item: ModItem | None, user_id: int | None, now: datetime,
           visibility: str | None, account: str | None, facts: str, category: str,
           synthetic: bool, automated_detection: bool, automated_decision: str,
           source_type: str = "SOURCE_VOLUNTARY") -> ModStatement:
    """Store one statement. ``automated_decision``: AUTOMATED_DECISION_FULLY,
    _PARTIALLY or _NOT_AUTOMATED."""
    cat, keywords = _CATEGORIES.get(category, _DEFAULT_CATEGORY)
    fields: dict[str, Any] = {
        "decision_visibility": [visibility] if visibility else [],
        "decision_account": account,
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "Non-consensual intimate imagery, including "
                                        "synthetic (deepfake) sexual imagery",
        "illegal_content_explanation": facts,
        "decision_facts": facts,
        "content_type": content_types(item.media_kind if item else "", synthetic),
        "category": cat,
        "category_specification": keywords,
        "automated_detection": "Yes" if automated_detection else "No",
        "automated_decision": automated_decision,
        "source_type": source_type,
        "application_date": now.date().isoformat(),
        "content_date": aware(item.created_at).date().isoformat() if item else None,
        "puid": f"item-{item.id}" if item else f"user-{user_id}",
    }
    row = ModStatement(item_id=item.id if item else None, user_id=user_id, fields=fields,
                       created_at=now)
    s.add(row)
    s.flush()
    return row


def export(s: Session, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    query = select(ModStatement).order_by(ModStatement.id)
    if since is not None:
        query = query.where(ModStatement.created_at >= since)
    for row in s.scalars(query.execution_options(yield_per=1000)):
        yield {"id": row.id, "created_at": aware(row.created_at).isoformat(), **row.fields}


def for_item(s: Session, item_id: int) -> list[dict[str, Any]]:
    return [{"id": r.id, **r.fields} for r in s.scalars(
        select(ModStatement).where(ModStatement.item_id == item_id).order_by(ModStatement.id))]

