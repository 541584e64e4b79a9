"""The command line: ``ml-connector`` (see :mod:`connector.cli.main`)."""

from connector.cli.main import cli, main

__all__ = ["cli", "main"]
