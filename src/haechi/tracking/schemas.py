"""Result models of tracking: what the library, the CLI's JSON and the API return."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SourceFormat = Literal["telegram", "bot", "csv"]
Role = Literal["producer", "requester", "distributor", "participant"]


class Skipped(BaseModel):
    where: str
    code: str
    message: str


class IngestReport(BaseModel):
    source: str
    path: str
    messages_read: int = 0
    added: int = 0
    #: Messages already in the store (same service, chat and message id).
    duplicates: int = 0
    media_new: int = 0
    media_flagged: int = 0
    media_errors: int = 0
    skipped_count: int = 0
    #: The first skipped items, each with its place and a stable code.
    skipped: list[Skipped] = Field(default_factory=list)


class Sighting(BaseModel):
    """One message that carried a cluster's content."""

    message_id: int
    chat_id: str
    room: str
    user_key: str
    sent_at: datetime
    forwarded: bool
    #: Where the forward came from, as the source tells it (a user key or a chat id).
    forwarded_from: str | None = None
    media_ref: str = ""


class ForwardHop(BaseModel):
    from_room: str
    to_room: str
    by_user: str
    at: datetime


class ClusterInfo(BaseModel):
    id: int
    media_ids: list[int]
    #: How the members were joined: sha256, file_unique_id, pdq<=31.
    linked_by: list[str]
    flagged: bool
    flag_detail: str = ""
    messages: int
    rooms: list[str]
    users: list[str]
    patient_zero: Sighting
    first_seen: datetime
    last_seen: datetime
    #: Each room the content reached, with the first time and how it got there.
    path: list[ForwardHop]
    timeline: list[Sighting]


class UserInfo(BaseModel):
    user_key: str
    name: str
    posts: int
    forwards: int
    media_posts: int
    flagged_posts: int
    rooms: list[str]
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    role: Role
    roles: list[Role]
    reasons: list[str]
    community: int | None = None
    betweenness: float = 0.0


class RuleHit(BaseModel):
    message_id: int
    user_key: str
    sent_at: datetime
    categories: list[str]
    terms: list[str]
    text: str


class RoomInfo(BaseModel):
    chat_id: str
    service: str
    title: str
    kind: str
    messages: int
    users: int
    media_messages: int
    flagged_messages: int
    flagged_share: float
    text_points: float
    risk_score: float
    reasons: list[str]
    hits: list[RuleHit]
    community: int | None = None


class KeyPlayer(BaseModel):
    user_key: str
    betweenness: float
    #: Largest connected share of the network left after removing this and earlier picks.
    largest_component_after: int


class NetworkInfo(BaseModel):
    nodes: int
    edges: int
    communities: list[list[str]]
    key_players: list[KeyPlayer]
    largest_component_before: int


class Analysis(BaseModel):
    messages: int
    rooms: list[RoomInfo]
    users: list[UserInfo]
    clusters: list[ClusterInfo]
    network: NetworkInfo
    generated_at: datetime


class PushReport(BaseModel):
    bank: str
    clusters: int
    hashes_offered: int
    added: int
    duplicates: int


class RescanReport(BaseModel):
    checked: int
    newly_flagged: int
    no_longer_flagged: int
