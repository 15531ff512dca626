"""What the routes need of the server process they run in.

The assembly point (``keyplane.runtime.Runtime``) provides it and ``keyplane.app``
hands it to the app; the edge and the areas' routes name only this protocol (or an
area's own extension of it), so nothing below the assembly point imports the module
that builds it, and imports point one way.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from keyplane.auth.authenticator import Authenticator
from keyplane.cache import AnswerCache
from keyplane.config import Settings
from keyplane.ops.limiter import SharedLimiter
from keyplane.secretbox import SecretBox


class Process(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    def reading(self) -> Session: ...

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def limiter(self) -> SharedLimiter: ...

    @property
    def secret_box(self) -> SecretBox: ...

    @property
    def answers(self) -> AnswerCache[Any]: ...

    @property
    def self_answers(self) -> AnswerCache[Any]: ...

    def unit_slots(self) -> anyio.CapacityLimiter: ...

    def readiness(self) -> dict[str, str]: ...


def process_of(connection: HTTPConnection) -> Any:
    """The process serving ``connection``, untyped: each caller names the protocol it
    reads it as (``Process``, ``ServerContext``, an area's own)."""
    return connection.app.runtime
