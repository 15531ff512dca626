"""What the operator's commands on the server's database share: the database, which
must be there already; one unit of work that holds the audit chain's lock, so that a
change and its audit event commit together; and the operator's event itself. Domain
errors end the command with the exit code the API's answer would give."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from keyplane.cli.errors import CliError, of_domain

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from keyplane.config import Settings


def migrate_database(url: str) -> None:
    """Apply the pending migrations to the database at ``url``; one of a newer keyplane
    is refused in one line, as the other admin commands refuse it."""
    from keyplane.db.migrate import SchemaAhead, upgrade

    try:
        upgrade(url)
    except SchemaAhead as ahead:
        raise CliError(str(ahead), hint=AHEAD_HINT) from None


AHEAD_HINT = "run this command with the keyplane version the server runs"


def database_url() -> str:
    """The database in the server's settings, for a command on its data.

    A SQLite file that is not there is a CliError naming it: SQLite would otherwise
    create an empty database, or fail to open one in a folder that is missing, and the
    operator is most likely in another directory than the server. Only ``admin init``
    and ``admin migrate`` create a database.
    """
    from keyplane.config import get_settings

    settings = get_settings()
    path = settings.sqlite_file
    if path is not None and not path.exists():
        raise CliError(
            f"no database at {path} ({_where_from(settings)})",
            hint="run it where the server runs, with the server's KEYPLANE_DATA_DIR or "
            "KEYPLANE_DATABASE_URL; `keyplane admin init` creates a new database",
        )
    return settings.resolved_database_url


def _where_from(settings: Settings) -> str:
    if settings.database_url:
        return "KEYPLANE_DATABASE_URL"
    if "data_dir" in settings.model_fields_set:
        return "in KEYPLANE_DATA_DIR"
    return "neither KEYPLANE_DATA_DIR nor KEYPLANE_DATABASE_URL is set"


@contextmanager
def server_database(url: str | None = None) -> Iterator[Engine]:
    """An engine on the server's database (``url``, else :func:`database_url`'s),
    disposed of when the block ends. A CliError if that database does not have this
    keyplane's schema (``admin migrate`` brings it there; the server does at start)."""
    from keyplane.db.session import make_engine

    engine = make_engine(url or database_url())
    try:
        _require_schema(engine)
        yield engine
    finally:
        engine.dispose()


SCHEMA_PROBLEMS = {
    "empty": "has no keyplane tables yet",
    "behind": "has migrations to apply for this version of keyplane",
    "ahead": "was migrated by a newer version of keyplane than this one",
}


def _require_schema(engine: Engine) -> None:
    from keyplane.db.migrate import schema_state

    state = schema_state(engine)
    if state == "current":
        return
    hint = (
        AHEAD_HINT
        if state == "ahead"
        else "`keyplane admin migrate` applies them (`keyplane server` does at start); "
        "or check that KEYPLANE_DATABASE_URL names the server's database"
    )
    raise CliError(f"the database {SCHEMA_PROBLEMS[state]}", hint=hint)


@contextmanager
def reading() -> Iterator[Session]:
    """A read of the server's database (rolled back at the end)."""
    from keyplane.db.session import make_sessionmaker
    from keyplane.db.unit import read_only

    with server_database() as engine, read_only(make_sessionmaker(engine)) as db:
        yield db


@contextmanager
def audited_unit() -> Iterator[Session]:
    """A unit of work on the database in the server's settings, holding the chain's lock;
    it commits when the block ends."""
    from keyplane.audit.recorder import locked_chain
    from keyplane.config import get_settings
    from keyplane.domain.errors import DomainError
    from keyplane.ops.changes import announcing_sessions

    try:
        # Announcing: running servers drop what they cached of what this changes.
        with (
            server_database() as engine,
            locked_chain(announcing_sessions(engine, get_settings())) as db,
        ):
            yield db
    except DomainError as error:
        raise of_domain(error) from None


def record(
    db: Session,
    action: str,
    organizations: str | list[str] | None,
    command: str,
    target: tuple[str, str] | None,
    details: dict[str, Any],
) -> None:
    """The audit event of an operator's ``command`` (``keyplane admin …``), in ``db``'s
    unit (an :func:`audited_unit`): in the log of the organization, or of each of the
    organizations, it changed; with none (a server-wide change), in the operators' view
    only (``keyplane admin audit list --no-organization``)."""
    from keyplane.audit.recorder import EventDraft, append_locked, in_each

    event = EventDraft(action)
    event.actor_kind, event.actor_name = "OPERATOR", command
    event.target_type, event.target_id = target or (None, None)
    event.details = details
    if isinstance(organizations, str):
        organizations = [organizations]
    append_locked(db, in_each(event, organizations or []))
