"""Settings from the environment (``HAECHI_*``) or arguments, validated once."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from haechi.media.limits import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAECHI_", extra="ignore")

    #: Where the SQLite database (by default) and the index files live.
    data_dir: Path = Path("haechi-data")
    #: ``sqlite:///...`` or ``postgresql+psycopg://...``; default: a file in data_dir.
    database_url: str | None = None

    max_bytes: int = Field(default=Limits.max_bytes, gt=0)
    max_image_pixels: int = Field(default=Limits.max_image_pixels, gt=0)
    max_video_pixels_per_frame: int = Field(default=Limits.max_video_pixels_per_frame, gt=0)
    max_video_seconds: float = Field(default=Limits.max_video_seconds, gt=0)
    max_video_frames: int = Field(default=Limits.max_video_frames, gt=0)
    video_seconds_per_hash: float = Field(default=Limits.video_seconds_per_hash, gt=0)
    working_short_side: int = Field(default=Limits.working_short_side, ge=0)

    #: How stale the in-memory index may be before a scan first reads the change feed.
    index_refresh_seconds: float = Field(default=0.5, ge=0)
    #: Save the index files once this many changes are not yet in them.
    index_save_after_changes: int = Field(default=50_000, gt=0)
    #: Readiness answers 503 ("stale") once a bank change has waited longer than this
    #: to reach the in-memory index (replicas must not serve from a stale index).
    index_max_lag_seconds: float = Field(default=5.0, gt=0)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'haechi.db').resolve()}"

    def limits(self) -> Limits:
        return Limits(
            max_bytes=self.max_bytes,
            max_image_pixels=self.max_image_pixels,
            max_video_pixels_per_frame=self.max_video_pixels_per_frame,
            max_video_seconds=self.max_video_seconds,
            max_video_frames=self.max_video_frames,
            video_seconds_per_hash=self.video_seconds_per_hash,
            working_short_side=self.working_short_side,
        )
