"""Who may use `citechat serve`: one policy and one ASGI middleware in front of every route of the app.

The middleware wraps the whole application (FastAPI routes, `/docs`, `/openapi.json`, the Gradio mount with its
`/config`, `/gradio_api/*` queue, upload and file routes), so a route added later is guarded without asking.

* No credential configured: everything is open (and `serve` refuses a non-loopback host unless `--public`).
* `CITECHAT_API_TOKEN` and/or `CITECHAT_WEB_USER` + `CITECHAT_WEB_PASSWORD` configured: every path except
  `/api/health` and the login page needs one of `Authorization: Bearer <token>`, `Authorization: Basic
  <user:password>`, or the session cookie that `POST /login` sets after checking the token or the user/password.
* Gradio's named-call API (`/gradio_api/call|run|api/...`, MCP) is never served: the page uses the queue only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.config import Settings
from rag.errors import UserInputError
from ui.api.errors import error_response

SESSION_COOKIE = "citechat_session"
SESSION_SECONDS = 7 * 24 * 3600
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
PUBLIC_PATHS = frozenset({"/api/health", LOGIN_PATH, LOGOUT_PATH})
# Gradio serves every event handler by name here; the page itself only uses /gradio_api/queue/join, so these
# stay closed for everyone (with credentials too): the REST API is the programmatic surface.
CLOSED_PREFIXES = ("/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/", "/gradio_api/mcp")
UNAUTHORIZED_MESSAGE = (
    "this server needs credentials: send 'Authorization: Bearer <CITECHAT_API_TOKEN>' "
    "(or log in at /login in a browser)"
)


@dataclass(frozen=True)
class AccessPolicy:
    """The configured credentials and the checks every request goes through."""

    api_token: str | None
    web_user: str | None
    web_password: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        """Build the policy; a web user without a password (or the reverse) is a configuration error."""
        password = settings.web_password.get_secret_value() if settings.web_password else None
        if bool(settings.web_user) != bool(password):
            raise UserInputError("set both CITECHAT_WEB_USER and CITECHAT_WEB_PASSWORD, or neither")
        token = settings.api_token.get_secret_value() if settings.api_token else None
        return cls(api_token=token or None, web_user=settings.web_user or None, web_password=password)

    @property
    def is_open(self) -> bool:
        """Return True when no credential is configured, so every request is let in."""
        return self.api_token is None and self.web_user is None

    def describe(self) -> str:
        """Return one line saying what guards the server."""
        if self.is_open:
            return "open: no CITECHAT_API_TOKEN or CITECHAT_WEB_USER/PASSWORD, anyone who can connect may use it"
        guards = [name for name, value in (("API token", self.api_token), ("web user", self.web_user)) if value]
        return f"every route but /api/health needs credentials ({' or '.join(guards)}; browsers log in at /login)"

    def check_login(self, username: str, password: str) -> bool:
        """Return True for the web user's name and password, or for the API token typed as the password."""
        valid = False
        if self.api_token is not None:
            valid |= _same(password, self.api_token)
        if self.web_user is not None and self.web_password is not None:
            valid |= _same(username, self.web_user) & _same(password, self.web_password)
        return valid

    def allows(self, headers: Headers) -> bool:
        """Return True if the request carries a valid bearer token, basic login or session cookie."""
        if self.is_open:
            return True
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.api_token is not None:
            return _same(value.strip(), self.api_token)
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except ValueError:
                return False
            return self.check_login(username, password)
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is a missing one
            return False
        morsel = cookie.get(SESSION_COOKIE)
        return morsel is not None and self.verify_session(morsel.value)

    def new_session(self, now: float | None = None) -> str:
        """Return a session cookie value: its expiry time and a signature by the configured secrets."""
        expires = str(int((now or time.time()) + SESSION_SECONDS))
        return f"{expires}.{self._sign(expires)}"

    def verify_session(self, value: str, now: float | None = None) -> bool:
        """Return True for an unexpired session value signed with the current secrets."""
        expires, _, signature = value.partition(".")
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return False
        return _same(signature, self._sign(expires))

    def _sign(self, message: str) -> str:
        # Keyed by the secrets themselves: workers agree without shared state, and changing a secret logs
        # everybody out.
        secrets = "\0".join(part or "" for part in (self.api_token, self.web_user, self.web_password))
        key = hashlib.sha256(b"citechat-session\0" + secrets.encode("utf-8")).digest()
        return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def is_loopback(host: str) -> bool:
    """Return True if binding `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(settings: Settings, public: bool) -> str | None:
    """Return why `serve` must not start open on this host, or None when it may."""
    if public or is_loopback(settings.host) or not AccessPolicy.from_settings(settings).is_open:
        return None
    return (
        f"refusing to serve on {settings.host} without credentials: anyone on the network could ask, upload and "
        "delete documents. Set CITECHAT_API_TOKEN (and/or CITECHAT_WEB_USER and CITECHAT_WEB_PASSWORD), "
        "or pass --public to serve it open on purpose"
    )


class AccessMiddleware:
    """Let a request through only if the policy allows it; answer 401 (JSON) or send browsers to /login."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CLOSED_PREFIXES):
            response = error_response(404, "not_found", f"{path} is not served; use the HTTP API under /api")
            await self._refuse(scope, receive, send, response)
            return
        if path in PUBLIC_PATHS or self.policy.allows(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        wants_page = scope.get("method") in ("GET", "HEAD") and "text/html" in headers.get("accept", "")
        if wants_page and not path.startswith(("/api/", "/v1/")):
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
            redirect = RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303)
            await self._refuse(scope, receive, send, redirect)
            return
        response = error_response(401, "unauthorized", UNAUTHORIZED_MESSAGE, {"WWW-Authenticate": "Bearer"})
        await self._refuse(scope, receive, send, response)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, response: ASGIApp) -> None:
        # The body is never read: an anonymous upload is dropped by the server, not spooled to disk.
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await response(scope, receive, send)
