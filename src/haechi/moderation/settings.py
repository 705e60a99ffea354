"""Moderation settings from the environment (``HAECHI_MODERATION_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModerationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAECHI_MODERATION_", extra="ignore")

    #: A policy YAML file; the packaged default when unset.
    policy: Path | None = None
    #: Public notices accepted per client address per window.
    notices_per_window: int = Field(default=10, gt=0)
    notice_window_s: float = Field(default=3600.0, gt=0)
    #: 32 bytes, URL-safe base64, encrypting held media; default: a key file in data_dir.
    media_key: str | None = Field(default=None, repr=False)
