"""Camera sources, the recognition pipeline, the service that wires it, its CLI and metrics."""
