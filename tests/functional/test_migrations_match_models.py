"""The migrations build exactly the schema the models declare, on both backends.

The test database is made by ``alembic upgrade head`` (conftest.db_url); Alembic's
autogenerate comparison against the models' metadata must find nothing to change: a
column, index or constraint added to a model without its migration (or the reverse)
fails here rather than on an operator's upgrade.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import keyplane.app  # noqa: F401 (imports every area, so every model is in the metadata)
from keyplane.db.base import Base


def test_upgrade_head_is_the_models_schema(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
