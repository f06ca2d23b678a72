"""The fleet: cameras kept as data in Redis, shared by any number of `vehiclewatch run --worker` processes."""
