"""Small helpers every package may use (credential redaction); imports none of the project's packages."""
