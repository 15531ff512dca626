from __future__ import annotations

from alembic import context

import keyplane.models  # noqa: F401  (registers every area's tables)
from keyplane.db.base import Base
from keyplane.db.session import make_engine

config = context.config
engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
