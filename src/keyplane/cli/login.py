"""``keyplane login`` and ``keyplane logout``: a person's own credential for the CLI.

``login`` opens the browser for the authorization code flow with PKCE and catches
the answer on a loopback port (RFC 8252); ``login --device`` uses the device flow
(RFC 8628) for machines without a browser. Either stores the tokens with
:mod:`keyplane.cli.login_store`. Credentials in the environment still win.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import typer

from keyplane.cli import login_store, output
from keyplane.cli.credentials import KEY_ID_VAR, TOKEN_VAR, server_url
from keyplane.cli.errors import CliError, NotAuthenticated
from keyplane.client import ServerUnreachable, post_form, send

CLIENT = {"client_id": login_store.CLIENT_ID}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
BROWSER_TIMEOUT = 300


def login(
    device: Annotated[
        bool,
        typer.Option(
            "--device", "--login-link", "-l", help="Sign in on another device (no browser here)."
        ),
    ] = False,
    token_login: Annotated[
        str | None,
        typer.Option(
            "--token-login",
            "-t",
            help="Sign in with a token (an API token or an access token); no browser.",
        ),
    ] = None,
) -> None:
    """Sign in as yourself; the CLI then acts with your roles until `keyplane logout`."""
    url = server_url()
    if token_login:
        email = _whoami(url, token_login.strip())
        if not email:
            raise NotAuthenticated(f"{url} did not accept the token given to --token-login")
        tokens: dict[str, Any] = {"access_token": token_login.strip()}
    else:
        tokens = _device_flow(url) if device else _browser_flow(url)
        email = _whoami(url, tokens["access_token"])
    login_store.save(os.environ, url, tokens, email)
    output.note(f"signed in to {url} as {email}")
    if os.environ.get(TOKEN_VAR) or os.environ.get(KEY_ID_VAR):
        output.warn(
            f"{TOKEN_VAR} or the deployment key pair is set and takes precedence over this login"
        )


def logout() -> None:
    """Sign out: the server revokes the login, and the stored tokens are deleted."""
    url = server_url()
    stored = login_store.forget(os.environ, url)
    if stored is None:
        output.note(f"not signed in to {url}")
        return
    if not stored.get("refresh_token"):  # a --token-login: the token is not ours to revoke
        output.note(f"signed out of {url}")
        return
    form = {**CLIENT, "token": stored["refresh_token"], "token_type_hint": "refresh_token"}
    try:
        post_form(url, "/oauth/revoke", form)
    except ServerUnreachable as error:
        output.warn(f"the server could not be told ({error}); the local login is deleted")
    output.note(f"signed out of {url}")


def _device_flow(url: str) -> dict[str, Any]:
    started = _post(url, "/oauth/device/code", CLIENT)
    output.note(
        f"To sign in, open {started['verification_uri_complete']}\n"
        f"and check that it shows the code {started['user_code']}"
    )
    interval = int(started.get("interval", 5))
    deadline = time.monotonic() + int(started["expires_in"])
    while time.monotonic() < deadline:
        time.sleep(interval)
        form = {**CLIENT, "grant_type": DEVICE_GRANT, "device_code": started["device_code"]}
        answer = post_form(url, "/oauth/token", form)
        body = answer.json()
        if answer.status_code == 200:
            return dict(body)
        error = body.get("error")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            raise NotAuthenticated(f"sign-in failed: {body.get('error_description', error)}")
    raise NotAuthenticated("the code expired before it was approved: run `keyplane login` again")


def _browser_flow(url: str) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    catcher = _Catcher()
    redirect_uri = f"http://127.0.0.1:{catcher.port}/callback"
    query = {
        **CLIENT,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    address = f"{url}/oauth/authorize?{urlencode(query)}"
    output.note(f"Opening your browser to sign in. If it does not open, visit:\n{address}")
    webbrowser.open(address)
    answer = catcher.wait(BROWSER_TIMEOUT)
    if answer.get("state") != state:
        raise NotAuthenticated("the sign-in answer did not match this login attempt")
    if "code" not in answer:
        raise NotAuthenticated(f"sign-in refused: {answer.get('error', 'no code')}")
    form = {
        **CLIENT,
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return _post(url, "/oauth/token", form)


class _Catcher:
    """A one-shot HTTP server on a free loopback port that catches the redirect."""

    def __init__(self) -> None:
        caught: dict[str, str] = {}
        done = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                params = parse_qs(urlsplit(self.path).query)
                caught.update({key: values[0] for key, values in params.items()})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"keyplane: you can close this window and go back to the CLI.")
                done.set()

            def log_message(self, *_: Any) -> None:  # keep the terminal clean
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._caught, self._done = caught, done
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait(self, timeout: float) -> dict[str, str]:
        try:
            if not self._done.wait(timeout):
                raise NotAuthenticated("no answer from the browser: run `keyplane login` again")
            return self._caught
        finally:
            self._server.shutdown()


def _post(url: str, path: str, form: dict[str, str]) -> dict[str, Any]:
    try:
        answer = post_form(url, path, form)
    except ServerUnreachable as error:
        raise CliError(str(error), hint="check KEYPLANE_URL") from None
    body = answer.json() if answer.content else {}
    if answer.status_code != 200:
        raise NotAuthenticated(f"sign-in failed: {body.get('error_description', answer.text)}")
    return dict(body)


def _whoami(url: str, access_token: str) -> str:
    answer = send("GET", f"{url}/v1/self", headers={"Authorization": f"Bearer {access_token}"})
    return str(answer.json().get("name", "")) if answer.status_code == 200 else ""
