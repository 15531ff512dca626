"""Tell every replica that credentials changed: PostgreSQL LISTEN/NOTIFY or Redis pub/sub.

A notifier has two halves. ``publish`` announces one committed change; a background
thread listens and calls ``on_change`` for every announcement, this process's own
included (a request that read the old row just before our commit may have cached it
after our local invalidation; our own notification clears it again). Whenever the
listener (re)connects it calls ``on_change`` too, because notifications sent while it
was away are lost, and it reports whether it is live so that the credential cache
can keep entries long while it is, and short while it is not.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from sqlalchemy import Connection, Engine, text

from keyplane.ops import metrics

log = logging.getLogger(__name__)

CHANNEL = "keyplane_credentials"
LISTENER_NAME = "keyplane-notifier"  # PostgreSQL application_name, Redis client name
_IDLE_CHECK_SECONDS = 1.0
_BACKOFF_FIRST, _BACKOFF_MAX = 0.1, 5.0
_STABLE_SECONDS = 10.0


def payload() -> str:
    """What a notification carries: when it was published, for the lag metric."""
    return json.dumps({"ts": time.time()})


class Notifier:
    """The shared part: the listener thread, reconnects with backoff, live state."""

    kind = "none"
    #: True when ``publish_in`` sends the notification inside the committing
    #: transaction (delivered if and only if it commits); else ``publish`` after it.
    transactional = False

    def __init__(self) -> None:
        self.live = False
        self.on_change: Callable[[], None] = lambda: None
        self.on_live: Callable[[bool], None] = lambda _live: None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The wait before the next reconnect: doubled after each loss, and back to the
        # first once a connection has stayed up ``stable_after`` seconds (a link that
        # drops as soon as it is up is not retried ten times a second).
        self.backoff = _BACKOFF_FIRST
        self.stable_after = _STABLE_SECONDS
        self._connected_at: float | None = None

    def publish(self) -> None:
        """Announce a committed change (used when not ``transactional``)."""

    def publish_in(self, connection: Connection) -> None:
        """Announce a change from inside the transaction that makes it."""

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self.kind}-notifier")
            self._thread.daemon = True
            self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._set_live(False)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
                self.backoff = _BACKOFF_FIRST
            except Exception as error:  # any failure: report, wait, reconnect
                up = self._connected_at
                if up is not None and time.monotonic() - up >= self.stable_after:
                    self.backoff = _BACKOFF_FIRST  # it held: this loss starts over
                self._connected_at = None
                if self.live:
                    log.warning(
                        "%s cache-invalidation listener lost (%s): cached credentials now "
                        "expire after the short TTL; reconnecting",
                        self.kind,
                        type(error).__name__,
                    )
                self._set_live(False)
                self._stop.wait(self.backoff)
                self.backoff = min(self.backoff * 2, _BACKOFF_MAX)

    def _listen(self) -> None:
        raise NotImplementedError

    def _connected(self) -> None:
        self._connected_at = time.monotonic()
        if not self.live:
            log.info("%s cache-invalidation listener connected", self.kind)
        self._set_live(True)
        metrics.INVALIDATIONS.labels(source="reconnect").inc()
        self.on_change()  # we may have missed notifications while away

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            metrics.NOTIFIER_LIVE.set(1 if live else 0)
            self.on_live(live)

    def _deliver(self, data: str | bytes) -> None:
        try:
            sent = float(json.loads(data)["ts"])
            metrics.INVALIDATION_LAG.observe(max(0.0, time.time() - sent))
        except (ValueError, KeyError, TypeError):
            pass  # an announcement without a timestamp still invalidates
        metrics.INVALIDATIONS.labels(source="notification").inc()
        self.on_change()


class PostgresNotifier(Notifier):
    """LISTEN on a dedicated connection; NOTIFY inside the committing transaction."""

    kind = "postgresql"
    transactional = True

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)

    def publish_in(self, connection: Connection) -> None:
        connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {
                "channel": CHANNEL,
                "payload": payload(),
            },
        )

    def _listen(self) -> None:
        with psycopg.connect(
            self._dsn,
            autocommit=True,
            connect_timeout=3,
            keepalives=1,
            keepalives_idle=5,
            application_name=LISTENER_NAME,
        ) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._connected()
            while not self._stop.is_set():
                for notice in connection.notifies(timeout=_IDLE_CHECK_SECONDS):
                    self._deliver(notice.payload)
                # An idle socket does not notice a server that went away: ask.
                connection.execute("SELECT 1")


class RedisNotifier(Notifier):
    """Redis pub/sub: publish after commit, subscribe in the listener thread."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._client = _redis_client(url)
        self.channel = redis_channel(self._client)

    def publish(self) -> None:
        try:
            self._client.publish(self.channel, payload())
        except redis.RedisError as error:
            # The change is committed; other replicas fall back to the short TTL
            # (their listeners lost Redis too).
            log.warning("could not publish a credential change to Redis (%s)", error)

    def _listen(self) -> None:
        client = _redis_client(self._url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8
        try:
            pubsub.subscribe(self.channel)
            self._connected()
            while not self._stop.is_set():
                message: dict[str, Any] | None = pubsub.get_message(timeout=_IDLE_CHECK_SECONDS)
                if message is not None and message.get("type") == "message":
                    self._deliver(message["data"])
        finally:
            pubsub.close()
            client.close()


def redis_channel(client: redis.Redis) -> str:
    """The channel of the URL's database: Redis delivers a publication to subscribers
    of every database number, so two keyplane installations sharing one Redis server
    on different databases (``/1``, ``/2``) would otherwise clear each other's caches.
    Database 0 keeps the bare name, so replicas of an earlier release still hear it."""
    db = int(client.connection_pool.connection_kwargs.get("db", 0))
    return f"{CHANNEL}:{db}" if db else CHANNEL


def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=5.0,
        health_check_interval=2,
        client_name=LISTENER_NAME,
    )


def make_notifier(choice: str, engine: Engine, redis_url: str | None) -> Notifier | None:
    """The notifier for ``choice`` (auto, postgresql, redis, none), or None.

    ``auto``: PostgreSQL when the database is PostgreSQL (the notification is part of
    the transaction, so it cannot be lost between commit and publish), else Redis when
    configured, else none (one process on SQLite needs none).
    """
    if choice == "auto":
        if engine.dialect.name == "postgresql":
            choice = "postgresql"
        else:
            choice = "redis" if redis_url else "none"
    if choice == "postgresql":
        if engine.dialect.name != "postgresql":
            raise ValueError("KEYPLANE_NOTIFIER=postgresql needs a PostgreSQL database")
        return PostgresNotifier(engine)
    if choice == "redis":
        if not redis_url:
            raise ValueError("KEYPLANE_NOTIFIER=redis needs KEYPLANE_REDIS_URL")
        return RedisNotifier(redis_url)
    return None
