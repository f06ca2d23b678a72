"""`python -m streamer` is the `vehiclewatch` command."""

from streamer.cli import main

main()
