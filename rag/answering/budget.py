"""The time an LLM reply may take, shared by all requests: a circuit breaker and a reply read against a deadline."""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

# How often a request waiting for the model looks at its deadline and the breaker: the delay between
# the breaker opening and every waiting request giving up.
POLL_S = 0.1


class CircuitBreaker:
    """Tells requests not to ask the LLM server: open for everyone once one request waited past the budget.

    Every call registers when it began waiting. The breaker opens as soon as any registered call has
    waited longer than `budget_s` (seen by whichever request looks first, while that call is still
    hanging, not after its own timeout ends) or a call is reported failed; it stays open `cooldown_s`.
    Requests that are waiting look at it every POLL_S and give up, so a hung server costs one budget,
    not one budget per waiting request. Thread-safe.
    """

    def __init__(self, budget_s: float, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = budget_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[int, float] = {}
        self._tickets = itertools.count()
        self._opened_at: float | None = None
        self._reason = ""

    def begin(self) -> int:
        """Register a call that starts waiting now; return its ticket for `end`."""
        with self._lock:
            ticket = next(self._tickets)
            self._waiting[ticket] = self._clock()
            return ticket

    def end(self, ticket: int) -> None:
        """Unregister a call (its reply ended, failed or was abandoned)."""
        with self._lock:
            self._waiting.pop(ticket, None)

    def trip(self, reason: str) -> None:
        """Open the breaker now, for `reason`."""
        with self._lock:
            self._open(reason)

    def open_reason(self) -> str | None:
        """Return why the server must not be asked (or waited for) now, or None when it may be."""
        with self._lock:
            now = self._clock()
            longest = max((now - started for started in self._waiting.values()), default=0.0)
            if longest > self.budget_s:
                self._open(f"a request has waited {longest:.1f} s for the LLM, over the {self.budget_s:g} s budget")
            if self._opened_at is not None and now - self._opened_at < self.cooldown_s:
                return self._reason
            return None

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock()
        self._reason = reason


class ReplyReader:
    """Reads a streamed reply on a daemon thread, so the request waiting for it can give up at any moment.

    `open_stream` returns an iterable of chunks with a `close()`; it is called on the thread, since a
    hung server may not even send its headers. Items are ("chunk", chunk), then ("end", None) or
    ("error", exception).
    """

    def __init__(self, open_stream: Callable[[], Iterable[Any]]) -> None:
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stream: Any = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(open_stream,), name="citechat-llm-reply", daemon=True).start()

    def _read(self, open_stream: Callable[[], Iterable[Any]]) -> None:
        try:
            stream = open_stream()
            with self._lock:
                self._stream = stream
            if self._cancelled.is_set():
                self.cancel()
                return
            for chunk in stream:
                self._items.put(("chunk", chunk))
                if self._cancelled.is_set():
                    return
            self._items.put(("end", None))
        except Exception as error:  # handed to the waiting request, which decides what it means
            self._items.put(("error", error))

    def next(self, timeout_s: float) -> tuple[str, Any] | None:
        """Return the next item, or None if none came within `timeout_s`."""
        try:
            return self._items.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def cancel(self) -> None:
        """Stop reading and close the connection (the server sees the client leave)."""
        self._cancelled.set()
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            # Closing a stream another thread is reading may raise here as well as there.
            with contextlib.suppress(Exception):
                stream.close()
