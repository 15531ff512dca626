"""What the OAuth and identity areas need of the process they run in.

The assembly point (``keyplane.runtime.Runtime``) provides it; the areas name only
this protocol, so they never import the module that builds them. It is what every
route may read (``keyplane.http.process.Process``), and the engine, the OAuth server
and the list of caches that the server's own caches join.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from keyplane.cache import Cache
from keyplane.http.process import Process, process_of

if TYPE_CHECKING:
    from keyplane.oauth.server import OAuthServer


class ServerContext(Process, Protocol):
    @property
    def engine(self) -> Engine: ...

    @property
    def oauth(self) -> OAuthServer: ...

    @property
    def caches(self) -> list[Cache[Any, Any]]: ...


def server_context(connection: HTTPConnection) -> ServerContext:
    """The process serving ``connection``, as the OAuth and identity areas see it."""
    context: ServerContext = process_of(connection)
    return context
