"""`keyplane login --device`, `whoami` and `logout` as processes against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.conftest import Server

PASSWORD = "plum vestibule 1987 kettle"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """Just enough of a browser over plain http: keeps cookies, even Secure ones."""

    def __init__(self, url: str) -> None:
        self.url, self.cookies = url, {}

    def send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer = httpx.request(method, self.url + path, headers={"Cookie": header}, **kwargs)  # type: ignore[arg-type]
        for line in answer.headers.get_list("set-cookie"):
            name, _, value = line.split(";")[0].partition("=")
            self.cookies[name] = value
        return answer

    def token(self, answer: httpx.Response) -> str:
        found = TOKEN.search(answer.text)
        assert found, answer.text
        return found.group(1)


def set_password(server: Server, home: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "KEYPLANE_DATA_DIR": str(home),
           "KEYPLANE_DATABASE_URL": server.database_url}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "set-password", "--email",
         "owner@acme.example", "--password-stdin"],
        input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def approve(server: Server, user_code: str) -> None:
    browser = Browser(server.url)
    page = browser.send("GET", "/login")
    form = {"email": "owner@acme.example", "password": PASSWORD, "csrf_token": browser.token(page)}
    signed = browser.send("POST", "/login/password", data=form)
    assert signed.status_code == 303, signed.text
    confirm = browser.send("GET", f"/device?user_code={user_code}")
    assert user_code in confirm.text
    form = {"user_code": user_code, "decision": "approve", "csrf_token": browser.token(confirm)}
    done = browser.send("POST", "/device", data=form)
    assert "Device approved" in done.text


def test_device_login_whoami_logout(server: Server, tmp_path: Path) -> None:
    set_password(server, tmp_path)
    env = {"PATH": os.environ["PATH"], "HOME": str(server.home), "KEYPLANE_URL": server.url,
           "KEYPLANE_CONFIG_DIR": str(tmp_path / "config")}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "keyplane", "login", "--device"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    user_code = ""
    for line in process.stderr:
        found = re.search(r"code ([B-Z]{4}-[B-Z]{4})", line)
        if found:
            user_code = found.group(1)
            break
    assert user_code
    approve(server, user_code)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "signed in" in rest and "owner@acme.example" in rest

    stored = tmp_path / "config" / "logins.json"
    assert stored.stat().st_mode & 0o777 == 0o600

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "keyplane", *args], env={**env, **extra},
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip

    me = cli("whoami")
    assert me.returncode == 0, me.stderr
    assert "USER" in me.stdout and "stored login" in me.stdout
    with_token = cli("whoami", ASTRO_API_TOKEN=server.acme.owner_token)
    assert "ASTRO_API_TOKEN" in with_token.stdout  # the environment keeps precedence

    assert cli("logout").returncode == 0
    assert cli("whoami").returncode == 3
