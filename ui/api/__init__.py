"""HTTP API over the shared services: `/api/*` (citechat's own) and `/v1/*` (OpenAI-compatible chat).

`errors` holds the JSON error envelope, `limits` what a body must be, `schemas` the request and response
models, `runtime` what handlers share, `rest` the `/api` routes and `openai_compat` the `/v1` routes.
Who may call any of them is decided in `ui/access.py`, in front of the whole app.
"""

from ui.api.errors import ErrorBody, ErrorResponse
from ui.api.schemas import (
    AskRequest,
    ChatCompletion,
    DocumentsReport,
    FeedbackRecord,
    FileResult,
    Health,
    ModelList,
)

__all__ = [
    "AskRequest",
    "ChatCompletion",
    "DocumentsReport",
    "ErrorBody",
    "ErrorResponse",
    "FeedbackRecord",
    "FileResult",
    "Health",
    "ModelList",
]
