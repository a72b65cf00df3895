"""Errors a person can act on: each message says what happened and what to do."""


class CitechatError(Exception):
    """Base class; `exit_code` is what the CLI returns for it."""

    exit_code = 1


class UserInputError(CitechatError):
    """The request itself is wrong (empty question, bad file, malformed history)."""

    exit_code = 2


class ConfigurationError(UserInputError):
    """A setting is missing or invalid."""


class StoreError(CitechatError):
    """The vector store is unreachable, unreadable or inconsistent."""


class EmbedderMismatchError(StoreError):
    """The store was built with another embedding model than the configured one."""


class BackendUnavailableError(CitechatError):
    """An optional backend (package or server) is missing or not answering."""
