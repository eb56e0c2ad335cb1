"""corridos: learn to write corridos tumbados, from recordings to a served generator."""

__version__ = "0.1.0"
