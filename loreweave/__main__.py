"""``python -m loreweave``."""

from loreweave.cli.main import main

main()
