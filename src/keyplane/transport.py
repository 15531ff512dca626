"""HTTP for the SDK with the standard library only: a CLI start must not pay for more.

One request per call (:func:`send`), answers read whole or streamed, no redirects
followed (they would carry the Authorization header elsewhere). Proxies come from
``HTTPS_PROXY``/``NO_PROXY``, CA certificates from the system store or
``SSL_CERT_FILE``. No HTTP answer at all raises :class:`ServerUnreachable`, which says
whether TLS, a timeout or the connection failed.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from keyplane import __version__

if TYPE_CHECKING:
    import urllib.request

TIMEOUT = 30.0
USER_AGENT = f"keyplane-cli/{__version__}"
# The CA bundle setting: OpenSSL reads it for every https connection (no code needed).
CA_BUNDLE_VAR = "SSL_CERT_FILE"


class ServerUnreachable(Exception):
    """No HTTP answer at all: wrong URL, server down, network or TLS failure.

    ``tls`` is True when the connection was made but the TLS handshake failed
    (a plain-http port, an untrusted or mismatched certificate); ``closed`` when it was
    made and then closed or reset before an answer arrived.
    """

    def __init__(
        self, base_url: str, reason: str, *, tls: bool = False, closed: bool = False
    ) -> None:
        super().__init__(f"cannot reach keyplane at {base_url}: {reason}")
        self.base_url = base_url
        self.reason = reason
        self.tls = tls
        self.closed = closed


class Headers(dict[str, str]):
    """Response headers with lower-cased names (HTTP names are case-insensitive)."""

    def __init__(self, pairs: Mapping[str, str] | None = None) -> None:
        super().__init__({k.lower(): v for k, v in (pairs or {}).items()})

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())


@dataclass
class Response:
    """One HTTP answer, read whole (streamed bodies are read by their callers)."""

    status_code: int
    headers: Headers
    content: bytes = b""
    reason_phrase: str = ""
    _stream: Any = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


@cache
def _opener() -> urllib.request.OpenerDirector:
    # Imported here: urllib.request (with http.client and ssl) is most of the SDK's
    # import time, and a command that never sends a request should not pay for it.
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        """Never follow a redirect: it would carry the Authorization header elsewhere."""

        def redirect_request(self, *_: Any, **__: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirects())


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | Iterator[bytes] | None = None,
    timeout: float = TIMEOUT,
    stream: bool = False,
) -> Response:
    """One HTTP request with the standard library (a CLI start must not pay for more).

    Proxies come from the usual ``HTTPS_PROXY``/``NO_PROXY`` variables, CA certificates
    from the system store or ``SSL_CERT_FILE``. Raises :class:`ServerUnreachable` when
    no HTTP answer arrives; an error status is an answer, not an exception. With
    ``stream`` the body is left unread: iterate :func:`iter_body` / :func:`iter_lines`.
    """
    import urllib.error
    import urllib.request

    opener = _opener()
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
    request.add_header("User-Agent", USER_AGENT)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        answer = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        answer = error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise unreachable_error(url, error) from None
    response = Response(
        answer.status, Headers(dict(answer.headers.items())), reason_phrase=answer.reason
    )
    if stream:
        response._stream = answer
        return response
    try:
        with answer:
            response.content = answer.read()
    except OSError as error:
        raise unreachable_error(url, error) from None
    return response


def iter_body(response: Response, block: int = 256 * 1024) -> Iterator[bytes]:
    with response._stream as answer:
        while chunk := answer.read(block):
            yield chunk


def iter_lines(response: Response) -> Iterator[str]:
    with response._stream as answer:
        for line in answer:
            yield line.decode("utf-8").rstrip("\r\n")


def post_form(
    base_url: str,
    path: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Response:
    """POST an ``application/x-www-form-urlencoded`` body (the OAuth endpoints' format)."""
    return send(
        "POST",
        f"{base_url.rstrip('/')}{path}",
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        body=urlencode(form).encode(),
        timeout=timeout,
    )


def unreachable_error(url: str, error: BaseException) -> ServerUnreachable:
    """Say what failed: TLS (with the host), a timeout, or no connection at all."""
    import ssl
    import urllib.error

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    reason = getattr(error, "reason", error) if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ssl.SSLError):
        detail = getattr(reason, "verify_message", None) or getattr(reason, "reason", None)
        return ServerUnreachable(
            base,
            f"the TLS handshake with {parts.hostname} failed ({detail or reason})",
            tls=True,
        )
    if isinstance(reason, TimeoutError):
        return ServerUnreachable(base, "the request timed out")
    if isinstance(reason, ValueError):
        return ServerUnreachable(base, f"not a usable URL ({reason})")
    if isinstance(reason, ConnectionResetError | BrokenPipeError):
        return ServerUnreachable(
            base, "the connection was closed before an answer arrived", closed=True
        )
    return ServerUnreachable(base, "connection refused or host not found")
