"""Telegram connector: a moderation bot for the groups and channels it guards.

``haechi.telegram.service.TelegramService(engine)`` runs it (it needs the ``telegram``
extra, aiogram); see docs/telegram.md.
"""
