"""Telegram bot settings from the environment (``HAECHI_TELEGRAM_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: What the public Bot API server lets a bot download.
CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
#: What a self-hosted Bot API server lets a bot download.
LOCAL_DOWNLOAD_LIMIT = 2000 * 1024 * 1024


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAECHI_TELEGRAM_", extra="ignore")

    #: The bot token from @BotFather; never stored in the repository or the database.
    token: SecretStr | None = Field(default=None, repr=False)
    #: A self-hosted Bot API server (``telegram-bot-api``), e.g. http://127.0.0.1:8081;
    #: the public server when unset.
    api_url: str | None = None
    #: Largest file downloaded and scanned; default 20 MB on the public server and
    #: 2000 MB on a self-hosted one.
    max_download_bytes: int | None = Field(default=None, gt=0)
    #: ``polling`` (getUpdates) or ``webhook`` (Telegram calls this server).
    mode: Literal["polling", "webhook"] = "polling"
    #: The public HTTPS URL Telegram posts updates to (webhook mode).
    webhook_url: str | None = None
    #: Sent back by Telegram in X-Telegram-Bot-Api-Secret-Token; required for webhooks.
    webhook_secret: SecretStr | None = Field(default=None, repr=False)
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8081, gt=0, lt=65536)
    webhook_path: str = "/telegram/webhook"
    #: Long-polling wait per getUpdates call.
    polling_timeout_s: int = Field(default=30, ge=0, le=50)
    #: How often reviewers' later decisions are read from the moderation events feed.
    events_interval_s: float = Field(default=5.0, gt=0)
    #: How long a chat's administrator list is trusted before asking Telegram again.
    admin_cache_s: float = Field(default=60.0, ge=0)
    #: Items held for review: left up (``keep``) or deleted until cleared (``delete``).
    hold_action: Literal["keep", "delete"] = "keep"
    #: Items the policy restricts (age-gates): Telegram has no age gate, so keep or delete.
    restrict_action: Literal["keep", "delete"] = "keep"
    #: A chat that also receives reports (oversize files, errors); none when unset.
    report_chat_id: int | None = None
    #: Keep each downloaded file the policy removes or holds in the evidence vault, with
    #: the message JSON as its capture record (needs HAECHI_VAULT_KEY).
    capture_evidence: bool = False
    #: Only these chats are guarded; every chat the bot is in when empty.
    guarded_chats: list[int] = Field(default_factory=list)
    #: Retries of a request refused with 429 or failed on the network, and their pacing.
    max_retries: int = Field(default=5, ge=0, le=100)
    backoff_base_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=60.0, gt=0)
    #: A 429 asking for a longer wait than this fails the request instead of stalling.
    max_retry_after_s: float = Field(default=600.0, gt=0)

    def download_limit(self) -> int:
        if self.max_download_bytes is not None:
            return self.max_download_bytes
        return LOCAL_DOWNLOAD_LIMIT if self.api_url else CLOUD_DOWNLOAD_LIMIT
