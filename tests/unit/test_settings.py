"""Settings that cannot work are refused when the process starts, never echoed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from keyplane.config import Settings

SECRETISH = "notakey-but-maybe-a-password"


def test_malformed_encryption_keys_are_refused_without_their_value() -> None:
    good = Fernet.generate_key().decode()
    for value in (SECRETISH, f"{good},{SECRETISH}", good[:-4]):
        with pytest.raises(ValidationError) as refused:
            Settings(encryption_keys=value)
        assert "encryption_keys" in str(refused.value)
        assert value not in str(refused.value) and SECRETISH not in str(refused.value)
    assert Settings(encryption_keys=f"{good}, {Fernet.generate_key().decode()}").encryption_keys


def test_no_command_starts_with_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KEYPLANE_DATA_DIR": str(tmp_path)}
    started = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "keys", "list"],
        env={**env, "KEYPLANE_ENCRYPTION_KEYS": SECRETISH},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert started.returncode != 0
    assert "encryption_keys" in (started.stderr + started.stdout).lower()
    assert SECRETISH not in started.stderr + started.stdout
