"""The application's version: written into every package's manifest and read by the packaging
(pyproject.toml takes it from here), so the two cannot disagree. 0.2.x writes package format 2."""

APP_VERSION = "0.2.0"
