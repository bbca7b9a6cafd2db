"""Services: what the UI and the report call to read and change an election file.

``ui/`` and ``reports/`` import no ``sqlite3``, ``sqlalchemy``, ``db.models`` or
``db.cli_*`` (an import-linter contract in pyproject.toml): the queries they need
live here, returning plain values and frozen records. Modules the first window
imports (:mod:`db.services.hq`, :mod:`db.services.station_reader`) load only the
standard library at import time; SQLAlchemy is imported where it is used.
"""
