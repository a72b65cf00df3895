"""The OpenAI-compatible chat API under `/v1`: the last user message is the question, earlier turns history."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from rag.errors import UserInputError
from rag.models import Answer, AnswerDelta, AnswerDone, AnswerEvent, Turn
from ui.api.errors import ERROR_RESPONSES
from ui.api.limits import require_json
from ui.api.rest import SSE_HEADERS, error_payload, format_sse
from ui.api.runtime import RuntimeDep, bearer
from ui.api.schemas import (
    MODEL_ID,
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    ModelCard,
    ModelList,
)

openai_router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(bearer)])


def split_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """Return (question, history): the last user message and the user/assistant turns before it."""
    turns = [Turn(role=m.role, content=m.text()) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise UserInputError("the last message must be a user message with the question")
    return turns[-1].content, turns[:-1]


def sources_footer(answer: Answer, excerpt_chars: int = 160) -> str:
    """Return the plain-text "Sources:" block appended to OpenAI-style answers."""
    if answer.abstained or not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for citation in answer.citations:
        spans = citation.highlights or []
        quoted = citation.text[spans[0].start : spans[0].end] if spans else citation.text
        quoted = " ".join(quoted.split())
        if len(quoted) > excerpt_chars:
            quoted = quoted[: excerpt_chars - 1].rstrip() + "…"
        lines.append(f"[{citation.marker}] {citation.title} — {quoted}")
    return "\n".join(lines)


@openai_router.get("/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models() -> ModelList:
    """List the one model, `citechat`."""
    return ModelList(data=[ModelCard()])


@openai_router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
    dependencies=[Depends(require_json)],
)
async def chat_completions(body: ChatCompletionRequest, runtime: RuntimeDep) -> ChatCompletion | StreamingResponse:
    """Answer the last user message, OpenAI-style; `stream: true` sends `chat.completion.chunk` events."""
    question, history = split_messages(body.messages)
    question = runtime.checked_question(question, history)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        answer = runtime.services.sources.answer(await runtime.run(runtime.services.engine.ask, question, history))
        return ChatCompletion(
            id=completion_id,
            created=created,
            choices=[ChatChoice(message=AssistantMessage(content=answer.answer + sources_footer(answer)))],
            citations=answer.citations,
            abstained=answer.abstained,
        )
    events = await runtime.open_answer_stream(question, history, None)
    return StreamingResponse(
        encode_openai_chunks(events, completion_id, created), media_type="text/event-stream", headers=SSE_HEADERS
    )


def openai_chunk(completion_id: str, created: int, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    """Return one `chat.completion.chunk` object."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def encode_openai_chunks(
    events: AsyncIterator[AnswerEvent], completion_id: str, created: int
) -> AsyncIterator[str]:
    """Yield OpenAI-style SSE chunks for the answer events, the sources footer, then `[DONE]`."""

    def emit(payload: dict[str, Any]) -> str:
        return format_sse(json.dumps(payload, ensure_ascii=False))

    yield emit(openai_chunk(completion_id, created, {"role": "assistant", "content": ""}))
    try:
        async for event in events:
            if isinstance(event, AnswerDelta):
                yield emit(openai_chunk(completion_id, created, {"content": event.text}))
            elif isinstance(event, AnswerDone):
                answer = event.answer
                if footer := sources_footer(answer):
                    yield emit(openai_chunk(completion_id, created, {"content": footer}))
                final = openai_chunk(completion_id, created, {}, finish="stop")
                final["citations"] = [citation.model_dump() for citation in answer.citations]
                final["abstained"] = answer.abstained
                yield emit(final)
    except Exception as error:  # the status is sent already; OpenAI clients read an `error` object
        yield format_sse(error_payload(error))
    yield format_sse("[DONE]")
