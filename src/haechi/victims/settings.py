"""Victims settings from the environment (``HAECHI_VICTIMS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class VictimsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAECHI_VICTIMS_", extra="ignore")

    #: The organisation that new cases from the public page are assigned to.
    organisation: str = Field(default="default", min_length=1, max_length=100)
    #: Name this instance signs its hash-exchange feed with (no spaces or '+').
    feed_origin: str = Field(default="haechi.local/victims", min_length=1, max_length=100)
    #: PEM Ed25519 private key for the feed; default: a key file made in data_dir.
    feed_key_file: Path | None = None
    #: Cases the public page may open per client address per window.
    submissions_per_window: int = Field(default=20, gt=0)
    submission_window_s: float = Field(default=3600.0, gt=0)
    #: PIN checks (view, withdraw, delete, report) per client address per window; the
    #: per-case lock is what stops guessing, this caps the argon2 work one client causes.
    pin_checks_per_window: int = Field(default=120, gt=0)
    pin_check_window_s: float = Field(default=3600.0, gt=0)
