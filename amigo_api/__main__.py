"""`python -m amigo_api` runs the command line."""

from amigo_api.cli import main

main()
