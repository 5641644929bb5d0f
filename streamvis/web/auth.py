"""``web-serve --web-token``: one shared secret guards every page, websocket and data route.

A request is let in when it carries the token once, as the query parameter
``web_token=TOKEN`` or the header ``Authorization: Bearer TOKEN``, or the cookie set
after that. A token in the URL is answered with the cookie and a redirect to the same
URL without it, so a link copied from the address bar never carries the secret (and
the page's own parameters never see it). Everything else is refused with 403 before
Bokeh builds a session or opens a websocket: no data leaves the server. Bokeh's static
JS/CSS (and the favicon) stay open; they hold no data.

The cookie holds an HMAC of the token, not the token: it stays valid across restarts
with the same token and becomes invalid when the token changes. It is HttpOnly,
SameSite=Lax (a shared link opened from a chat still works), and Secure under TLS.
Plug it into Bokeh with ``Server(..., auth_provider=WebTokenAuth(token))``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import urllib.parse
from typing import Any

from bokeh.server.auth_provider import AuthProvider
from tornado.web import HTTPError

from streamvis.errors import InvalidArgumentError

__all__ = [
    "WEB_TOKEN_ENV",
    "TOKEN_PARAM",
    "COOKIE_NAME",
    "WebTokenAuth",
    "resolve_web_token",
    "strip_token",
    "cookie_value",
]

WEB_TOKEN_ENV = "STREAMVIS_WEB_TOKEN"
TOKEN_PARAM = "web_token"
COOKIE_NAME = "streamvis_web"
COOKIE_DAYS = 30
REFUSED = (
    "streamvis: this page needs the web token: open the link once with "
    f"?{TOKEN_PARAM}=TOKEN (or send Authorization: Bearer TOKEN)"
)
WRONG = "streamvis: wrong web token"


def resolve_web_token(token: str | None) -> str | None:
    """The web token to require: ``token``, else $STREAMVIS_WEB_TOKEN, else None (open)."""
    value = token if token is not None else os.environ.get(WEB_TOKEN_ENV)
    if value is None or value == "":
        return None
    if value.strip() != value or any(ord(c) < 33 or ord(c) > 126 for c in value):
        raise InvalidArgumentError(
            "the web token must be printable ASCII without spaces (e.g. from "
            "`openssl rand -hex 16`)"
        )
    return value


def cookie_value(token: str) -> str:
    """What the cookie holds for ``token``: an HMAC, so the cookie never is the token."""
    return hmac.new(token.encode(), b"streamvis web-serve cookie v1", hashlib.sha256).hexdigest()


def strip_token(uri: str) -> tuple[str, list[str]]:
    """``uri`` without its ``web_token`` parameters (the rest kept byte for byte), and
    the values removed."""
    path, sep, query = uri.partition("?")
    if not sep:
        return uri, []
    kept, found = [], []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if urllib.parse.unquote_plus(key) == TOKEN_PARAM:
            found.append(urllib.parse.unquote_plus(value))
        elif part:
            kept.append(part)
    return (f"{path}?{'&'.join(kept)}" if kept else path), found


def _bearer(handler: Any) -> str | None:
    header = handler.request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPError(403, reason=WRONG)
    return value.strip()


class WebTokenAuth(AuthProvider):
    """A Bokeh auth provider requiring one shared token (see the module doc)."""

    def __init__(self, token: str, *, secure_cookie: bool = False) -> None:
        if not token:
            raise InvalidArgumentError("the web token must not be empty")
        self._token = token.encode()
        self._cookie = cookie_value(token)
        self._secure = secure_cookie
        super().__init__()

    def _matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    @property
    def get_user_async(self) -> Any:
        return self._check

    @property
    def get_login_url(self) -> Any:
        # only reached if a handler skipped prepare(): refuse rather than redirect
        def refuse(handler: Any) -> str:
            raise HTTPError(403, reason=REFUSED)

        return refuse

    def _set_cookie(self, handler: Any) -> None:
        handler.set_cookie(
            COOKIE_NAME,
            self._cookie,
            path="/",
            expires_days=COOKIE_DAYS,
            httponly=True,
            samesite="Lax",
            secure=self._secure,
        )

    async def _check(self, handler: Any) -> str:
        """Run in every guarded handler's prepare(): a user name, a redirect, or 403."""
        uri = handler.request.uri or "/"
        stripped, in_url = strip_token(uri)
        if in_url:
            if not all(self._matches(v) for v in in_url):
                raise HTTPError(403, reason=WRONG)
            self._set_cookie(handler)
            if handler.request.method in ("GET", "HEAD"):
                handler.redirect(stripped)  # finishes the request: Bokeh never sees it
            else:
                raise HTTPError(403, reason="streamvis: send the web token in a header")
            return "web-token"
        bearer = _bearer(handler)
        if bearer is not None:
            if not self._matches(bearer):
                raise HTTPError(403, reason=WRONG)
            self._set_cookie(handler)
            return "web-token"
        cookie = handler.get_cookie(COOKIE_NAME)
        if cookie and hmac.compare_digest(cookie, self._cookie):
            return "web-token"
        raise HTTPError(403, reason=REFUSED)
