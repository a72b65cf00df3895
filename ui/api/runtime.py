"""What every request handler shares: the services, the limiter of engine threads, and answering helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from rag.engine import validate_question
from rag.models import AnswerDone, AnswerEvent, Turn
from ui.services import Services

T = TypeVar("T")

# Documents the credential in /docs ("Authorize"); the access middleware (ui/access.py) is what checks it.
bearer = HTTPBearer(auto_error=False, description="The value of CITECHAT_API_TOKEN.")


@dataclass
class Runtime:
    """What every request handler needs: the services and the limiter of engine threads."""

    services: Services
    engine_limiter: anyio.CapacityLimiter

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound engine work in a worker thread so the event loop keeps serving."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self.engine_limiter)

    def checked_question(self, question: str, history: Sequence[Turn]) -> str:
        """Validate the question and history cheaply on the event loop; raise UserInputError (422)."""
        return validate_question(question, history, self.services.engine.limits)

    async def open_answer_stream(
        self, question: str, history: Sequence[Turn], top_k: int | None
    ) -> AsyncIterator[AnswerEvent]:
        """Start answering and return the remaining events (sources shown relative); early failures raise here."""
        events = self.services.engine.stream(question, history, top_k)
        first = await self.run(next, events, None)
        sources = self.services.sources

        async def remaining() -> AsyncIterator[AnswerEvent]:
            try:
                event = first
                while event is not None:
                    yield AnswerDone(sources.answer(event.answer)) if isinstance(event, AnswerDone) else event
                    event = await self.run(next, events, None)
            finally:
                if isinstance(events, Generator):
                    events.close()

        return remaining()


def get_runtime(request: Request) -> Runtime:
    """Return the runtime `create_app` stored on the application."""
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
