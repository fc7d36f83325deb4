"""The guard of our local web fronts: only this machine's own pages and scripts may use them.

The technological server's pages and ``serve``'s control API listen on
loopback next to a person's browser. Two attacks reach such a server from a
web page the person happens to open:

* **DNS rebinding**: a page of ``evil.example`` whose name is re-pointed at
  127.0.0.1 becomes same-origin with the local server. ``local_guards`` puts
  starlette's ``TrustedHostMiddleware`` first: a request must name this server
  in ``Host`` (a loopback name or one of the names given), anything else is
  400;
* **cross-site requests** (CSRF): any page can post a form or send a simple
  request to a loopback port. ``SameOrigin`` refuses (403) a request whose
  ``Origin`` is not this server's own ``Host`` (or is ``null``), or that a
  browser marks ``Sec-Fetch-Site: cross-site``. Scripts and curl send neither
  and are let through, but a JSON API write (under ``api_prefix``) must say
  ``Content-Type: application/json``, which a cross-site form cannot send
  without a preflight these servers never answer.

A third guard, ``SecurityHeaders``, goes on every response: the page may not
be framed by another site (``X-Frame-Options: DENY``, CSP ``frame-ancestors
'none'``; a click inside a foreign frame is clickjacking), a content security
policy given by the front (by default nothing at all may load), no MIME
sniffing.

``SameOrigin`` checks writes only (``writes_only=True``, the pages: a link
from elsewhere may open them) or every request (the control API, which has
nothing to show to another site). Its messages are in the language of the
front it guards (``MESSAGES``).
"""

from __future__ import annotations

import html
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import HTMLResponse, JSONResponse

log = logging.getLogger("kkt_emu.webguard")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

MESSAGES = {
    "ru": {"origin": "запрос с чужой страницы ({origin}) отклонён",
           "cross-site": "запрос с чужой страницы отклонён",
           "content-type": "API принимает только Content-Type: application/json, не {ctype!r}"},
    "en": {"origin": "refused: a request from another site's page ({origin})",
           "cross-site": "refused: a request from another site's page",
           "content-type": "refused: the API takes Content-Type: application/json only, not {ctype!r}"},
}


class SameOrigin:
    """Refuse (403) requests that a browser sends on behalf of another site (see the module docstring)."""

    def __init__(self, app: Any, *, lang: str = "ru", writes_only: bool = True, api_prefix: str = "/api/") -> None:
        self.app = app
        self.messages = MESSAGES[lang]
        self.writes_only = writes_only
        self.api_prefix = api_prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not (self.writes_only and scope["method"] in SAFE_METHODS):
            why = self.refused(scope)
            if why:
                log.warning("refused %s %s: %s", scope["method"], scope["path"], why)
                response = (JSONResponse({"error": why}, status_code=403) if scope["path"].startswith(self.api_prefix)
                            else HTMLResponse(f"<p>{html.escape(why)}</p>", status_code=403))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refused(self, scope: Any) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            if urlsplit(origin).netloc != host:
                return self.messages["origin"].format(origin=origin)
        elif origin == "null" or headers.get("sec-fetch-site") == "cross-site":
            return self.messages["cross-site"]
        if scope["path"].startswith(self.api_prefix) and scope["method"] in ("POST", "PUT", "PATCH"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype and ctype != "application/json":
                return self.messages["content-type"].format(ctype=ctype)
        return None


DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


class SecurityHeaders:
    """Every response: never in a frame of another site, a content security policy, no MIME sniffing."""

    def __init__(self, app: Any, *, csp: str = DEFAULT_CSP) -> None:
        self.app = app
        self.headers = [
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", csp.encode("ascii")),
            (b"x-content-type-options", b"nosniff"),
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in self.headers if h[0] not in names)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): where the local servers may listen."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(names: Iterable[str] = ()) -> list[str]:
    """The ``Host`` names a local front answers to: the loopback names and ``names``."""
    return sorted({*LOOPBACK_NAMES, *(h.strip("[]").lower() for h in names if h)})


def local_guards(names: Iterable[str] = (), *, lang: str = "ru", writes_only: bool = True,
                 csp: str = DEFAULT_CSP) -> list[Middleware]:
    """The middleware of a local front: the security headers, the ``Host`` check, then ``SameOrigin``."""
    return [Middleware(SecurityHeaders, csp=csp),
            Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(names), www_redirect=False),
            Middleware(SameOrigin, lang=lang, writes_only=writes_only)]
