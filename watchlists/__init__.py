"""Watchlists: which vehicles to look for, matching classifications against them, and alerts on Redis.

* :mod:`watchlists.entries` — entries and the watchlist YAML file.
* :mod:`watchlists.aliases` — name normalisation and alias tables (makes, colours, body types).
* :mod:`watchlists.matching` — :class:`~watchlists.matching.Matcher`: classification → matches with scores.
* :mod:`watchlists.cooldown` — one alert per camera and entry per period.
* :mod:`watchlists.alerts` — the versioned alert message.
* :mod:`watchlists.publisher` — writes alerts to Redis (stream, channel, snapshot) without losing any.
* :mod:`watchlists.consumer` — reads them back in a consumer group (``alerts tail``).
* :mod:`watchlists.redis_connection` — external or embedded Redis.
* :mod:`watchlists.settings` — the settings models.
"""
