"""`FakeBotApi`: an aiohttp Bot API server on 127.0.0.1 that the real Application polls.

Tests push updates (messages, button presses, inline queries, documents)
into its queue and read back what the bot sent. Every request is checked
against the Bot API 10.0 description in `tests/telegram_api/` (method names,
required and known parameters, parameter types, nested objects), HTML text
is checked as Telegram parses it, and callback data against its 64-byte
limit. Anything wrong lands in `errors` (and the request fails as Telegram
would fail it), so a test can assert `errors == []` at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .html_check import parse_telegram_html

SPEC_PATH = Path(__file__).resolve().parent.parent / "telegram_api" / "bot-api-10.0.json"
_MUST_BE = re.compile(r"must be \*?([a-z_]+)\*?")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    ok: bool
    result: Any = None
    arrived: float = 0.0  # time.perf_counter() when the request reached the server, before any parsing


@dataclass
class ApiError(Exception):
    code: int
    description: str
    parameters: dict[str, Any] | None = None


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    is_forum: bool = False
    username: str | None = None
    first_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class User:
    id: int
    first_name: str
    language_code: str | None = "ar"
    username: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            out["language_code"] = self.language_code
        if self.username:
            out["username"] = self.username
        return out


class Spec:
    """Validation of parameters and objects against the machine-readable Bot API description."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.version = data["version"]
        self.methods: dict[str, dict] = data["methods"]
        self.types: dict[str, dict] = data["types"]

    def check_call(self, method: str, raw: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
        """Decoded parameters and the problems with them."""
        spec = self.methods.get(method)
        if spec is None:
            return {}, [f"unknown method {method!r}"]
        fields = {f["name"]: f for f in spec.get("fields", [])}
        problems = [f"{method}: unknown parameter {name!r}" for name in raw if name not in fields]
        problems += [f"{method}: missing required parameter {name!r}"
                     for name, f in fields.items() if f["required"] and name not in raw]
        params: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in fields:
                continue
            types = fields[name]["types"]
            params[name] = value if types == ["String"] else _json_or_raw(value)
            problems += self.check_value(params[name], types, f"{method}.{name}")
        return params, problems

    def check_value(self, value: Any, types: list[str], where: str) -> list[str]:
        attempts = [self._check_one(value, t, where) for t in types]
        if any(not a for a in attempts):
            return []
        return min(attempts, key=len)

    def _check_one(self, value: Any, type_name: str, where: str) -> list[str]:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{where}: expected {type_name}"]
            return [p for i, v in enumerate(value) for p in self.check_value(v, [type_name[9:]], f"{where}[{i}]")]
        simple = {"String": str, "Boolean": bool, "Float": (int, float), "Integer": int}
        if type_name in simple:
            ok = isinstance(value, simple[type_name]) and not (type_name != "Boolean" and isinstance(value, bool))
            return [] if ok else [f"{where}: expected {type_name}, got {value!r:.60}"]
        if type_name == "InputFile":
            return []
        spec = self.types.get(type_name)
        if spec is None:
            return [f"{where}: unknown type {type_name}"]
        if not isinstance(value, dict):
            return [f"{where}: expected a {type_name} object"]
        if spec.get("subtypes"):
            return self._check_subtype(value, spec["subtypes"], where)
        fields = {f["name"]: f for f in spec.get("fields", [])}
        problems = [f"{where}: unknown field {k!r} for {type_name}" for k in value if k not in fields]
        problems += [f"{where}: missing field {k!r} of {type_name}" for k, f in fields.items()
                     if f["required"] and k not in value]
        for k, v in value.items():
            if k in fields:
                problems += self.check_value(v, fields[k]["types"], f"{where}.{k}")
        return problems

    def _check_subtype(self, value: dict, subtypes: list[str], where: str) -> list[str]:
        for name in subtypes:
            type_field = next((f for f in self.types[name].get("fields", []) if f["name"] == "type"), None)
            must = _MUST_BE.search(type_field["description"]) if type_field else None
            if must and value.get("type") == must.group(1):
                return self._check_one(value, name, where)
        attempts = [self._check_one(value, name, where) for name in subtypes]
        return [] if any(not a for a in attempts) else [f"{where}: matches none of {subtypes}"]


def _json_or_raw(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeBotApi:
    def __init__(self, token: str = "123456:ABC-fake-token_for_tests", username: str = "news_test_bot") -> None:
        self.token = token
        self.spec = Spec()
        self.bot_user = {"id": 777000111, "is_bot": True, "first_name": "News Bot", "username": username,
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": True}
        self.calls: list[Call] = []
        self.errors: list[str] = []
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.commands: dict[tuple[str, str], list[dict]] = {}
        self._updates: list[dict] = []
        # update_id → time.perf_counter() when a getUpdates answer first handed the update out
        # (a benchmark measures from there to the reply's `Call.arrived`).
        self.delivered: dict[int, float] = {}
        self._next_update = itertools.count(1)
        self._next_message: dict[int, itertools.count] = defaultdict(lambda: itertools.count(1))
        self._next_query = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._failures: dict[str, deque[int]] = defaultdict(deque)
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.webhook: dict[str, Any] | None = None
        self.short_polls = False  # answer getUpdates at once (while the bot is being stopped)

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- what tests push ---------------------------------------------------------------

    def private_chat(self, user: User) -> Chat:
        chat = Chat(user.id, "private", first_name=user.first_name, username=user.username)
        self.chats[chat.id] = chat
        return chat

    def group(self, chat_id: int, title: str, *, forum: bool = False) -> Chat:
        chat = Chat(chat_id, "supergroup", title=title, is_forum=forum)
        self.chats[chat.id] = chat
        return chat

    def send(self, chat: Chat, user: User, text: str | None = None, *, reply_to: dict | None = None,
             thread_id: int | None = None, document: dict | None = None) -> dict[str, Any]:
        """A user's message arrives: stored, and queued as an update."""
        message_id = next(self._next_message[chat.id])
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat.as_dict(),
                                   "from": user.as_dict()}
        if text is not None:
            message["text"] = text
            if entities := _entities(text):
                message["entities"] = entities
        if document is not None:
            message["document"] = document
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = _shallow(reply_to)
        elif thread_id is not None:  # in a topic, Telegram sets the topic's creation message as the reply
            message["reply_to_message"] = {"message_id": thread_id, "date": message["date"],
                                           "chat": chat.as_dict(), "from": user.as_dict(),
                                           "message_thread_id": thread_id, "is_topic_message": True,
                                           "forum_topic_created": {"name": "topic", "icon_color": 7322096}}
        self.messages[(chat.id, message_id)] = message
        self._push({"message": message})
        return message

    def send_document(self, chat: Chat, user: User, name: str, data: bytes, *,
                      claimed_size: int | None = None) -> dict[str, Any]:
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = (f"documents/{file_id}_{name}", data)
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name,
                    "file_size": claimed_size if claimed_size is not None else len(data)}
        return self.send(chat, user, None, document=document)

    def press(self, user: User, message: dict[str, Any], data: str) -> str:
        """A button under `message` is pressed; returns the callback query id."""
        query_id = f"cb{next(self._next_query)}"
        self._open_callbacks.add(query_id)
        current = self.messages[(message["chat"]["id"], message["message_id"])]
        self._push({"callback_query": {"id": query_id, "from": user.as_dict(), "message": current,
                                       "chat_instance": "ci1", "data": data}})
        return query_id

    def inline(self, user: User, query: str, offset: str = "") -> str:
        query_id = f"iq{next(self._next_query)}"
        self._push({"inline_query": {"id": query_id, "from": user.as_dict(), "query": query, "offset": offset}})
        return query_id

    def take_updates(self) -> list[dict]:
        """The queued updates, removed from the queue (to deliver them to a webhook instead)."""
        updates, self._updates = self._updates, []
        return updates

    def end_long_polls(self, short: bool = True) -> None:
        """Answer the pending long poll now, and later ones at once while `short` holds."""
        self.short_polls = short
        self._new_update.set()

    def fail_next(self, method: str, retry_after: int) -> None:
        """The next call of `method` gets a 429 with `retry_after`, as a flood-limited bot does."""
        self._failures[method].append(retry_after)

    def _push(self, payload: dict[str, Any]) -> None:
        self._updates.append({"update_id": next(self._next_update), **payload})
        self._new_update.set()

    # --- what tests read ---------------------------------------------------------------

    def mark(self) -> int:
        return len(self.calls)

    def sent(self, method: str = "sendMessage", since: int = 0, **match: Any) -> list[Call]:
        return [c for c in self.calls[since:] if c.method == method and c.ok
                and all(c.params.get(k) == v for k, v in match.items())]

    async def wait_for(self, method: str = "sendMessage", count: int = 1, since: int = 0, within: float = 10,
                       **match: Any) -> list[Call]:
        """The first `count` successful calls of `method` after `since` (waits for them)."""
        deadline = asyncio.get_running_loop().time() + within
        while len(found := self.sent(method, since, **match)) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                got = [(c.method, c.params.get("text", "")[:80]) for c in self.calls[since:]]
                raise AssertionError(f"timed out waiting for {count} {method} {match}; calls since: {got}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass
        return found[:count]

    async def drained(self, within: float = 10) -> None:
        """Wait until the bot has fetched every queued update."""
        deadline = asyncio.get_running_loop().time() + within
        while self._updates:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the bot did not fetch its updates")
            await asyncio.sleep(0.01)

    def message(self, call: Call) -> dict[str, Any]:
        """The stored message a sendMessage/editMessageText call produced (as the bot sees it now)."""
        return self.messages[(call.result["chat"]["id"], call.result["message_id"])]

    # --- the API -----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _reply(ApiError(401, "Unauthorized"))
        raw = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        raw.update(request.query)
        params, problems = self.spec.check_call(method, raw)
        if problems:
            self.errors += problems
            self._record(Call(method, params or raw, False, arrived=arrived))
            return _reply(ApiError(404 if params == {} and method not in self.spec.methods else 400,
                                   "Bad Request: " + "; ".join(problems)))
        if self._failures[method]:
            retry_after = self._failures[method].popleft()
            self._record(Call(method, params, False, {"retry_after": retry_after}, arrived))
            return _reply(ApiError(429, f"Too Many Requests: retry after {retry_after}",
                                   {"retry_after": retry_after}))
        try:
            if method == "getUpdates":
                result = await self._get_updates(params)
            else:
                handler = getattr(self, f"_do_{method}", None)
                if handler is None:
                    raise ApiError(400, f"Bad Request: the stand-in server does not implement {method}")
                result = handler(params)
        except ApiError as exc:
            if exc.code != 400 or "not modified" not in exc.description:
                self.errors.append(f"{method}: {exc.description}")
            self._record(Call(method, params, False, exc.description, arrived))
            return _reply(exc)
        self._record(Call(method, params, True, result, arrived))
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for stored_path, data in self.files.values():
            if stored_path == path:
                return web.Response(body=data)
        self.errors.append(f"file download of unknown path {path!r}")
        return web.Response(status=404)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict]:
        offset = params.get("offset")
        if offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and params.get("timeout") and not self.short_polls:
            self._new_update.clear()
            try:  # long polling, held briefly so that stopping the bot stays quick
                await asyncio.wait_for(self._new_update.wait(), min(float(params["timeout"]), 1.0))
            except TimeoutError:
                pass
        handed_out = self._updates[: int(params.get("limit", 100))]
        now = time.perf_counter()
        for update in handed_out:
            self.delivered.setdefault(update["update_id"], now)
        return handed_out

    def _do_getMe(self, params: dict[str, Any]) -> dict:
        return self.bot_user

    def _do_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def _do_setWebhook(self, params: dict[str, Any]) -> bool:
        if not params["url"].startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = params
        return True

    def _do_setMyCommands(self, params: dict[str, Any]) -> bool:
        scope = params.get("scope", {"type": "default"})
        if scope.get("type") == "chat" and scope.get("chat_id") not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        for command in params["commands"]:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]) or not 1 <= len(command["description"]) <= 256:
                raise ApiError(400, f"Bad Request: invalid bot command {command}")
        key = (json.dumps(scope, sort_keys=True), params.get("language_code", ""))
        self.commands[key] = params["commands"]
        return True

    def _do_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop((json.dumps(params.get("scope", {"type": "default"}), sort_keys=True),
                           params.get("language_code", "")), None)
        return True

    def _do_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._chat(params["chat_id"])
        return True

    def _do_sendMessage(self, params: dict[str, Any]) -> dict:
        chat = self._chat(params["chat_id"])
        text = self._checked_text(params["text"], params.get("parse_mode"))
        self._check_markup(params.get("reply_markup"))
        message_id = next(self._next_message[chat.id])
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat.as_dict(),
                                   "from": {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")},
                                   "text": text}
        if thread := params.get("message_thread_id"):
            if not chat.is_forum:
                raise ApiError(400, "Bad Request: message thread not found")
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if reply := params.get("reply_parameters"):
            replied = self.messages.get((chat.id, reply["message_id"]))
            if replied is None and not reply.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
            if replied is not None:
                message["reply_to_message"] = _shallow(replied)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat.id, message_id)] = message
        return message

    def _do_editMessageText(self, params: dict[str, Any]) -> dict:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: inline messages are not used by this bot")
        chat = self._chat(params.get("chat_id"))
        message = self.messages.get((chat.id, params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        text = self._checked_text(params["text"], params.get("parse_mode"))
        self._check_markup(params.get("reply_markup"))
        if text == message.get("text") and params.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message["text"] = text
        message["edit_date"] = int(time.time())
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message

    def _do_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = params["callback_query_id"]
        if query_id not in self._open_callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.discard(query_id)
        if len(params.get("text", "")) > 200:
            raise ApiError(400, "Bad Request: callback answer text is longer than 200 characters")
        return True

    def _do_answerInlineQuery(self, params: dict[str, Any]) -> bool:
        results = params["results"]
        if len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids = [r["id"] for r in results]
        if len(set(ids)) != len(ids) or any(not 1 <= len(i.encode()) <= 64 for i in ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID or duplicate")
        if len(params.get("next_offset", "").encode()) > 64:
            raise ApiError(400, "Bad Request: next_offset longer than 64 bytes")
        for result in results:
            content = result.get("input_message_content", {})
            if "message_text" in content:
                self._checked_text(content["message_text"], content.get("parse_mode"))
            self._check_markup(result.get("reply_markup"))
        return True

    def _do_getFile(self, params: dict[str, Any]) -> dict:
        stored = self.files.get(params["file_id"])
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = stored
        if len(data) > 20 * 1024**2:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": params["file_id"], "file_unique_id": f"u{params['file_id']}", "file_size": len(data),
                "file_path": path}

    # --- checks ------------------------------------------------------------------------

    def _chat(self, chat_id: Any) -> Chat:
        chat = self.chats.get(chat_id if isinstance(chat_id, int) else _json_or_raw(str(chat_id)))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _checked_text(self, text: str, parse_mode: str | None) -> str:
        if parse_mode is None:
            plain, problems = text, ([] if 0 < len(text) <= 4096 else ["message text empty or too long"])
        elif parse_mode == "HTML":
            plain, problems = parse_telegram_html(text)
        else:
            raise ApiError(400, f"Bad Request: the stand-in server checks only HTML, not {parse_mode}")
        if problems:
            raise ApiError(400, "Bad Request: can't parse entities: " + "; ".join(problems))
        return plain

    def _check_markup(self, markup: dict | None) -> None:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                    raise ApiError(400, f"Bad Request: BUTTON_DATA_INVALID ({len(data.encode())} bytes)")


def _reply(error: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.code)


def _shallow(message: dict[str, Any]) -> dict[str, Any]:
    """A message as embedded in another one (Telegram does not nest replies further)."""
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities as Telegram marks them (offsets in UTF-16 units)."""
    out = []
    for m in re.finditer(r"(?<![\w/@])(/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?|@[A-Za-z0-9_]{5,32})", text):
        offset = len(text[:m.start()].encode("utf-16-le")) // 2
        length = len(m.group(0).encode("utf-16-le")) // 2
        kind = "bot_command" if m.group(0).startswith("/") else "mention"
        out.append({"type": kind, "offset": offset, "length": length})
    return out
