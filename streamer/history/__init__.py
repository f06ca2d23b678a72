"""The sightings history: every track summary and alert archived in a database, searchable by attribute and time."""
