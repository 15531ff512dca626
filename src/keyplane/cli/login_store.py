"""Stored interactive logins (``keyplane login``): one per server, in the CLI config dir.

The file ``logins.json`` lives in ``$KEYPLANE_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/keyplane``, else ``~/.config/keyplane``; the dir is made 0700 and
the file written 0600, because it holds a refresh token. The access token is
refreshed (and the refresh token rotated) when it has less than a minute left.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keyplane.cli.errors import NotAuthenticated

CLIENT_ID = "keyplane-cli"
REFRESH_MARGIN = 60
SIGN_IN_AGAIN = "sign in again with `keyplane login` (or `keyplane login --device`)"


def config_dir(env: Mapping[str, str]) -> Path:
    if env.get("KEYPLANE_CONFIG_DIR"):
        return Path(env["KEYPLANE_CONFIG_DIR"])
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "keyplane"


def _file(env: Mapping[str, str]) -> Path:
    return config_dir(env) / "logins.json"


def _read_all(env: Mapping[str, str]) -> dict[str, Any]:
    try:
        data = json.loads(_file(env).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_all(env: Mapping[str, str], data: dict[str, Any]) -> None:
    path = _file(env)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def load(env: Mapping[str, str], url: str) -> dict[str, Any] | None:
    found = _read_all(env).get(url)
    return found if isinstance(found, dict) else None


def save(env: Mapping[str, str], url: str, tokens: Mapping[str, Any], email: str = "") -> None:
    data = _read_all(env)
    data[url] = {
        "access_token": tokens["access_token"],
        "refresh_token": tokens.get("refresh_token", ""),
        "expires_at": int(time.time()) + int(tokens.get("expires_in", 0)),
        "email": email or data.get(url, {}).get("email", ""),
    }
    _write_all(env, data)


def forget(env: Mapping[str, str], url: str) -> dict[str, Any] | None:
    data = _read_all(env)
    found = data.pop(url, None)
    _write_all(env, data)
    return found if isinstance(found, dict) else None


def fresh_access_token(env: Mapping[str, str], url: str) -> str:
    """The stored access token, refreshed first if it is about to expire."""
    stored = load(env, url)
    if stored is None:
        raise NotAuthenticated("you are signed out", hint=SIGN_IN_AGAIN)
    if not stored.get("refresh_token"):  # `login --token-login`: a token with no refresh
        return str(stored["access_token"])
    if int(stored.get("expires_at", 0)) - REFRESH_MARGIN > time.time():
        return str(stored["access_token"])
    form = {
        "grant_type": "refresh_token",
        "refresh_token": stored["refresh_token"],
        "client_id": CLIENT_ID,
    }
    from keyplane.client import ServerUnreachable, post_form  # only when a refresh is due

    try:
        answer = post_form(url, "/oauth/token", form)
    except ServerUnreachable as error:
        raise NotAuthenticated(f"cannot refresh the login at {url}: {error}") from None
    if answer.status_code != 200:
        forget(env, url)
        reason = answer.json().get("error_description", "") if answer.content else ""
        raise NotAuthenticated(f"the stored login is no longer valid: {reason}", hint=SIGN_IN_AGAIN)
    tokens = answer.json()
    save(env, url, tokens)
    return str(tokens["access_token"])
