"""`python -m scrumy` runs the `scrumy` command line."""

from scrumy.cli import main

main()
