"""A local Bot API server for the tests: Telegram itself cannot be reached from here.

It speaks the documented methods the bot uses (getMe, getUpdates, getFile, the file
download at /file/bot<token>/<path>, deleteMessage, banChatMember, unbanChatMember,
sendMessage, getChatAdministrators, setWebhook, deleteWebhook), answers in the Bot API's
JSON envelope, records every call, and can answer 429 with ``retry_after`` or drop the
connection to exercise the bot's retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token-for-the-stand-in"
BOT_ID = 123456


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    #: time.perf_counter() when the call arrived (benchmarks measure latency with it).
    at: float = 0.0


@dataclass
class StandIn:
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    admins: dict[int, list[int]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    #: Faults to answer with, per method, in order: ("429", seconds) or ("drop", 0).
    faults: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    deleted: set[tuple[int, int]] = field(default_factory=set)
    #: File size getFile reports instead of the real one, per file_id.
    reported_sizes: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _next_update: int = 1000
    _next_message: int = 50_000
    _runner: web.AppRunner | None = None

    # -- feeding -----------------------------------------------------------------------

    def add_file(self, data: bytes, *, name: str = "f",
                 unique: str | None = None) -> tuple[str, str]:
        """Store a file; (file_id, file_unique_id). The unique id follows the content,
        as Telegram's does, unless given."""
        unique = unique or "U" + hashlib.sha256(data).hexdigest()[:14]
        file_id = f"F{len(self.files)}-{unique}-{name}"
        self.files[file_id] = (unique, data)
        return file_id, unique

    def push(self, body: dict[str, Any], *, key: str = "message") -> int:
        self._next_update += 1
        self.updates.append({"update_id": self._next_update, key: body})
        return self._next_update

    def push_raw(self, raw: dict[str, Any]) -> None:
        self.updates.append(raw)

    # -- what the bot did --------------------------------------------------------------

    def called(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- server ------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, **parameters: Any) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != TOKEN:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            try:
                params[key] = json.loads(text)
            except ValueError:
                params[key] = text
        self.calls.append(Call(method, params, time.perf_counter()))
        pending = self.faults.get(method)
        if pending:
            kind, seconds = pending.pop(0)
            if kind == "429":
                return self._error(429, f"Too Many Requests: retry after {seconds}",
                                   retry_after=seconds)
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-request
            return web.Response()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        result: web.StreamResponse = await handler(params)
        return result

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.downloads.append(path)
        found = self.files.get(path.removeprefix("files/"))
        if request.match_info["token"] != TOKEN or found is None:
            return web.Response(status=404)
        return web.Response(body=found[1])

    # -- methods -----------------------------------------------------------------------

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return self._ok({"id": BOT_ID, "is_bot": True, "first_name": "Haechi",
                         "username": "haechi_test_bot"})

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        # Telegram forgets updates below the offset: they were confirmed.
        self.updates = [u for u in self.updates
                        if not isinstance(u.get("update_id"), int) or u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 1.0)
        while not self.updates and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self._ok(self.updates[:limit])

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params.get("file_id"))
        found = self.files.get(file_id)
        if found is None:
            return self._error(400, "Bad Request: invalid file_id")
        size = self.reported_sizes.get(file_id, len(found[1]))
        if size > 20 * 1024 * 1024:
            return self._error(400, "Bad Request: file is too big")
        return self._ok({"file_id": file_id, "file_unique_id": found[0], "file_size": size,
                         "file_path": f"files/{file_id}"})

    async def _m_deleteMessage(self, params: dict[str, Any]) -> web.Response:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key in self.deleted:
            return self._error(400, "Bad Request: message to delete not found")
        self.deleted.add(key)
        return self._ok(True)

    async def _m_banChatMember(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_unbanChatMember(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_banChatSenderChat(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        self._next_message += 1
        chat_id = int(params["chat_id"])
        return self._ok({"message_id": self._next_message, "date": int(time.time()),
                         "chat": {"id": chat_id,
                                  "type": "private" if chat_id > 0 else "supergroup"},
                         "from": {"id": BOT_ID, "is_bot": True, "first_name": "Haechi"},
                         "text": str(params.get("text", ""))})

    async def _m_getChatAdministrators(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        flags = dict.fromkeys((
            "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
            "can_manage_video_chats", "can_restrict_members", "can_promote_members",
            "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
            "can_delete_stories", "can_send_welcome_messages"), True)
        return self._ok([{"status": "administrator",
                          "user": {"id": uid, "is_bot": False, "first_name": f"admin{uid}"},
                          **flags} for uid in self.admins.get(chat_id, [])])
