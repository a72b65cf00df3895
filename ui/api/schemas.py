"""Request and response models of the HTTP API (the error envelope lives in `errors.py`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.feedback import Feedback
from rag.models import Citation, Turn

MODEL_ID = "citechat"


class AskRequest(BaseModel):
    """A question with optional earlier turns."""

    question: str = Field(description="The question, in Russian or English.")
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    top_k: int | None = Field(default=None, ge=1, le=20, description="Passages considered (default: settings).")


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class FeedbackRecord(Feedback):
    """A stored feedback record."""

    time: str = Field(description="When it arrived (UTC, ISO 8601).")


class FileResult(BaseModel):
    """What happened to one uploaded or removed file."""

    filename: str = Field(description="The name the client sent (or the document's source for removals).")
    source: str = Field(description="The document's source as the API shows it (relative, e.g. uploads/notes.txt).")
    status: Literal["added", "updated", "unchanged", "removed", "failed"] = Field(
        description="updated: a document of that name was stored and has been replaced by this upload."
    )
    chunks: int = 0
    error: str = ""


class DocumentsReport(BaseModel):
    """Per-file outcome of an upload or removal."""

    files: list[FileResult]
    summary: str


class TextPart(BaseModel):
    """One text part of an OpenAI message content list."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """An OpenAI chat message; system and developer messages are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """Return the content as plain text."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The subset of OpenAI's chat-completions request citechat honours; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class AssistantMessage(BaseModel):
    """The assistant's reply."""

    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    """The single completion choice."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """OpenAI chat completion plus citechat's structured `citations` and `abstained`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[ChatChoice]
    citations: list[Citation]
    abstained: bool


class ModelCard(BaseModel):
    """One model in `/v1/models`."""

    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "citechat"


class ModelList(BaseModel):
    """The models `/v1/models` lists."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
