"""The browser's way through the access policy: a login form that sets the session cookie, and logout."""

from __future__ import annotations

import asyncio
import html
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ui.access import LOGIN_PATH, LOGOUT_PATH, SESSION_COOKIE, SESSION_SECONDS, AccessPolicy
from ui.api.errors import error_response

# A wrong password costs the caller this long, which makes guessing slow without any state to keep.
FAILED_LOGIN_DELAY_S = 0.5

LABELS = {
    "ru": {
        "title": "Вход в citechat",
        "user": "Пользователь",
        "password": "Пароль или API-токен",
        "token": "API-токен",
        "submit": "Войти",
        "wrong": "Неверные данные для входа.",
    },
    "en": {
        "title": "Sign in to citechat",
        "user": "User",
        "password": "Password or API token",
        "token": "API token",
        "submit": "Sign in",
        "wrong": "Wrong credentials.",
    },
}

login_router = APIRouter(include_in_schema=False)


def get_policy(request: Request) -> AccessPolicy:
    """Return the access policy `create_app` stored on the application."""
    return request.app.state.access  # type: ignore[no-any-return]


def local_target(target: str | None) -> str:
    """Return `target` if it is a path on this server, else `/` (no open redirect to another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def render_login(policy: AccessPolicy, language: Literal["ru", "en"], target: str, failed: bool) -> str:
    """Return the login page: user and password, or just the token when no web user is configured."""
    text = LABELS[language]
    user_field = ""
    if policy.web_user is not None:
        user_field = f'<label>{text["user"]}<input name="username" autocomplete="username" autofocus></label>'
    secret = text["password"] if policy.web_user is not None else text["token"]
    error = f'<p class="error" role="alert">{text["wrong"]}</p>' if failed else ""
    return f"""<!doctype html><html lang="{language}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{text["title"]}</title>
<style>body{{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0}}
form{{display:grid;gap:.8rem;min-width:18rem;padding:2rem;border:1px solid #ccd;border-radius:10px}}
label{{display:grid;gap:.3rem}}input{{padding:.5rem;font-size:1rem}}button{{padding:.6rem;font-size:1rem}}
.error{{color:#b3261e;margin:0}}</style></head><body>
<form method="post" action="{LOGIN_PATH}"><h1>{text["title"]}</h1>{error}{user_field}
<label>{secret}<input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{html.escape(target)}"><button type="submit">{text["submit"]}</button>
</form></body></html>"""


@login_router.get(LOGIN_PATH)
async def login_page(request: Request, next: str = "/") -> Response:
    """Show the login form (or go straight on when the server is open)."""
    policy = get_policy(request)
    if policy.is_open:
        return RedirectResponse(local_target(next), status_code=303)
    language = request.app.state.runtime.services.settings.ui_language
    return HTMLResponse(render_login(policy, language, local_target(next), failed=False))


@login_router.post(LOGIN_PATH)
async def login(request: Request) -> Response:
    """Check the form's user/password (or token); set the session cookie and go on, or answer 401."""
    policy = get_policy(request)
    form = await request.form()
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    target = local_target(str(form.get("next") or "/"))
    browser = "text/html" in request.headers.get("accept", "")
    if not policy.is_open and not policy.check_login(username, password):
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)
        if browser:
            language = request.app.state.runtime.services.settings.ui_language
            return HTMLResponse(render_login(policy, language, target, failed=True), status_code=401)
        return error_response(401, "unauthorized", "wrong user, password or token")
    # Browsers follow the redirect; programs (gradio_client's `auth=`) read 200 and keep the cookie.
    response: Response = RedirectResponse(target, status_code=303) if browser else JSONResponse({"success": True})
    response.set_cookie(
        SESSION_COOKIE,
        policy.new_session(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@login_router.get(LOGOUT_PATH)
async def logout() -> Response:
    """Forget the session cookie and show the login form."""
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
