"""The `vehiclewatch` command line: one module per command group."""
