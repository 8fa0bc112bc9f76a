"""The SQL backend: SQLite by default (a file), PostgreSQL for production.

Needs the `sql` extra (`pip install 'aftersales[sql]'`); PostgreSQL also needs the
`postgres` extra (psycopg 3). See `docs/sql-backend.md`.

Examples:
    >>> from aftersales import AfterSales
    >>> from aftersales.backends.sql import SqlBackend
    >>> app = AfterSales(SqlBackend("aftersales.db"))  # doctest: +SKIP
"""

from .backend import SqlBackend
from .builder import SqlBuilder
from .migrations import MIGRATIONS, current_version, upgrade
from .schema import SCHEMA_VERSION

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqlBackend", "SqlBuilder", "current_version", "upgrade"]
