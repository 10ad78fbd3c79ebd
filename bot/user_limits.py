"""What readers may send: sliding-window limits on questions per user and per group chat.

Held in memory on purpose: a restart forgetting who asked a minute ago is
harmless, and a flood has to get through Telegram to us first.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindow:
    """At most `limit` events per `window` seconds for each key."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._warned: dict[Hashable, float] = {}

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self.window:
            events.popleft()
        return events

    def would_allow(self, key: Hashable) -> bool:
        return len(self._recent(key, self._clock())) < self.limit

    def hit(self, key: Hashable) -> None:
        now = self._clock()
        self._recent(key, now).append(now)
        if len(self._events) > 10_000:  # forget idle keys now and then
            self._events = {k: v for k, v in self._events.items() if v and now - v[-1] < self.window}

    def first_refusal(self, key: Hashable) -> bool:
        """True once per window for a limited key: tell the user once, then stay quiet."""
        now = self._clock()
        if now - self._warned.get(key, -self.window) >= self.window:
            self._warned[key] = now
            return True
        return False


class UserLimits:
    """How many questions, and how many follow-ups (buttons, inline queries), each user and group may send."""

    def __init__(self, per_user: int, per_chat: int, window: float,
                 clock: Callable[[], float] = time.monotonic, *, follow_ups_per_user: int = 60) -> None:
        self.users = SlidingWindow(per_user, window, clock)
        self.chats = SlidingWindow(per_chat, window, clock)
        # Page turns, full-article buttons and inline queries: cheaper for a user to send than
        # a question (one tap, one keystroke), so they get their own, larger allowance.
        self.follow_ups = SlidingWindow(follow_ups_per_user, window, clock)

    def allow(self, user_id: int | None, chat_id: int, is_group: bool) -> bool:
        """Count a question if both its user and (in groups) its chat are under their limits."""
        if not self.users.would_allow(user_id) or (is_group and not self.chats.would_allow(chat_id)):
            return False
        self.users.hit(user_id)
        if is_group:
            self.chats.hit(chat_id)
        return True

    def allow_follow_up(self, user_id: int | None) -> bool:
        """Count a button press or inline query if its user is under the follow-up limit."""
        if not self.follow_ups.would_allow(user_id):
            return False
        self.follow_ups.hit(user_id)
        return True

    def warn(self, user_id: int | None, chat_id: int) -> bool:
        return self.users.first_refusal((user_id, chat_id))
