"""``python -m connector.cli``."""

from connector.cli.main import main

main()
