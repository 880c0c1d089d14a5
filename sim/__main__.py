"""``python -m sim`` runs the command-line interface."""

from sim._entry import main

main()
