"""The service: configuration, wiring (start in order, stop in reverse), metrics and the health/metrics HTTP server."""
