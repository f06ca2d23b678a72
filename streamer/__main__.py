"""`python -m streamer` is the `vehiclewatch` command."""

from streamer.cli.main import main

main()
