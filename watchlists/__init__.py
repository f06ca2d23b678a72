"""Watchlists: which vehicles to look for, matching classifications against them, and alerts on Redis.

* :mod:`watchlists.entries` — entries (versioned: shades, plates, uncertain fields, priority, validity) and the
  watchlist YAML file.
* :mod:`watchlists.aliases` — name normalisation and alias tables (makes, colours, body types).
* :mod:`watchlists.colors` — base colours, shades, and the confusion table (partial credit for confusable colours).
* :mod:`watchlists.plates` — plate patterns with ``?``/``*`` wildcards, plate reads.
* :mod:`watchlists.vocabulary` — the makes and models the description parser knows (label sets + built-in list).
* :mod:`watchlists.parser` — alert descriptions → entries; every token placed or reported.
* :mod:`watchlists.matching` — :class:`~watchlists.matching.Matcher`: classification → matches with scores,
  factors and a per-field breakdown.
* :mod:`watchlists.live` — the matcher the pipeline uses, swapped whole on reload.
* :mod:`watchlists.store` — entries managed in Redis (hash, revision, change channel).
* :mod:`watchlists.reload` — keeps the live matcher current from the file and Redis.
* :mod:`watchlists.evaluation` — precision/recall of a watchlist's alerts on a labelled image set.
* :mod:`watchlists.cooldown` — one alert per camera and entry per period (and only for active entries).
* :mod:`watchlists.alerts` — the versioned alert message and its JSON schema.
* :mod:`watchlists.publisher` — writes alerts to Redis (stream, channel, snapshot) without losing any.
* :mod:`watchlists.consumer` — reads them back in a consumer group (``alerts tail``).
* :mod:`watchlists.reference_consumer` — a minimal consumer to copy into other projects (redis-py only).
* :mod:`watchlists.redis_connection` — external or embedded Redis.
* :mod:`watchlists.settings` — the settings models.
* :mod:`watchlists.field_tables` — the field tables of the docs, generated from the models.
"""
