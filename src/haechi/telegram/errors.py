"""Errors of the Telegram connector, each with a stable code."""

from __future__ import annotations

from haechi.errors import HaechiError


class TelegramConfigError(HaechiError):
    """The bot cannot start: a setting is missing or unsafe."""

    code = "telegram_config"
    http_status = 500
