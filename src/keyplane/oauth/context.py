"""What the OAuth and identity areas need of the process they run in.

The assembly point (``keyplane.runtime.Runtime``) provides it; the areas name only
this protocol, so they never import the module that builds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from keyplane.auth.authenticator import Authenticator
from keyplane.cache import Cache
from keyplane.config import Settings
from keyplane.ops.limiter import SharedLimiter
from keyplane.secretbox import SecretBox

if TYPE_CHECKING:
    from keyplane.oauth.server import OAuthServer


class ServerContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def limiter(self) -> SharedLimiter: ...

    @property
    def secret_box(self) -> SecretBox: ...

    @property
    def oauth(self) -> OAuthServer: ...

    @property
    def caches(self) -> list[Cache[Any, Any]]: ...
