"""``web-serve --web-token``: one shared secret guards every page, websocket and data route.

A request is let in when it carries the token once, as the query parameter
``web_token=TOKEN`` or the header ``Authorization: Bearer TOKEN``, or the cookie set
after that. A token in the URL is answered with the cookie and a redirect to the same
URL without it, so a link copied from the address bar never carries the secret (and
the page's own parameters never see it). Everything else is refused with 403 before
Bokeh builds a session or opens a websocket: no data leaves the server. Bokeh's static
JS/CSS (and the favicon) stay open; they hold no data.

The cookie holds its issue time and an HMAC (keyed by the token) of that time, never
the token: it stays valid across restarts with the same token, for ``cookie_days``
(a week by default, ``--web-cookie-days``) after it was issued, and becomes invalid
when the token changes; an expired, forged or altered cookie is refused like none. It
is HttpOnly, SameSite=Lax (a shared link opened from a chat still works), and Secure
under TLS. ``Authorization`` headers of other schemes than Bearer (a reverse proxy's
Basic auth) are ignored. Neither the header nor the cookie reaches the page: Bokeh's
session token (readable by any script in it) is built without them
(``session_excludes()``, passed to the server by ``web/server.py``).
Plug it into Bokeh with ``Server(..., auth_provider=WebTokenAuth(token))``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
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
    "cookie_valid",
    "session_excludes",
    "DEFAULT_COOKIE_DAYS",
]

WEB_TOKEN_ENV = "STREAMVIS_WEB_TOKEN"
TOKEN_PARAM = "web_token"
COOKIE_NAME = "streamvis_web"
DEFAULT_COOKIE_DAYS = 7.0
_COOKIE_SALT = b"streamvis web-serve cookie v2|"
_CLOCK_SKEW = 300  # seconds a cookie's issue time may lie in the future
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


def _sign(token: str, issued: int) -> str:
    return hmac.new(token.encode(), _COOKIE_SALT + str(issued).encode(), hashlib.sha256).hexdigest()


def cookie_value(token: str, issued: float | None = None) -> str:
    """What the cookie holds for ``token``, issued at ``issued`` (seconds since the epoch;
    now by default): ``ISSUED.HMAC``, so the cookie never is the token."""
    at = int(time.time() if issued is None else issued)
    return f"{at}.{_sign(token, at)}"


def cookie_valid(token: str, value: str, max_age_s: float, now: float | None = None) -> bool:
    """Whether ``value`` is a cookie this ``token`` issued less than ``max_age_s`` ago."""
    at_text, sep, mac = value.partition(".")
    if not sep or not at_text.isdigit() or len(at_text) > 12:
        return False
    at = int(at_text)
    if not hmac.compare_digest(mac.encode(), _sign(token, at).encode()):
        return False
    age = (time.time() if now is None else now) - at
    return -_CLOCK_SKEW <= age < max_age_s


def session_excludes() -> dict[str, list[str]]:
    """Bokeh server settings that keep credentials out of the session token embedded in
    every page: the ``Authorization`` and ``Cookie`` headers and the auth cookie."""
    return {
        "exclude_headers": ["Authorization", "Proxy-Authorization", "Cookie"],
        "exclude_cookies": [COOKIE_NAME],
    }


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
    """The token of an ``Authorization: Bearer`` header; None without one (another
    scheme, e.g. a reverse proxy's Basic auth, is not ours: ignored)."""
    header = handler.request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    if not value.strip():
        raise HTTPError(403, reason=WRONG)
    return value.strip()


class WebTokenAuth(AuthProvider):
    """A Bokeh auth provider requiring one shared token (see the module doc)."""

    def __init__(
        self, token: str, *, secure_cookie: bool = False, cookie_days: float = DEFAULT_COOKIE_DAYS
    ) -> None:
        if not token:
            raise InvalidArgumentError("the web token must not be empty")
        if not cookie_days > 0:
            raise InvalidArgumentError(
                f"--web-cookie-days must be a positive number of days, got {cookie_days}"
            )
        self._text = token
        self._token = token.encode()
        self._secure = secure_cookie
        self._days = cookie_days
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
            cookie_value(self._text),
            path="/",
            expires_days=self._days,
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
        if cookie and cookie_valid(self._text, cookie, self._days * 86400):
            return "web-token"
        raise HTTPError(403, reason=REFUSED)
