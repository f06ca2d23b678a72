"""Watchlists: which vehicles to look for, matching classifications against them, and alerts on Redis.

* :mod:`watchlists.entries` — entries (versioned: shades, plates, uncertain fields, priority, validity) and the
  watchlist YAML file, from one import: :mod:`~watchlists.entry_model`, :mod:`~watchlists.entry_files` (strict
  and lenient loading), :mod:`~watchlists.entry_errors`.
* :mod:`watchlists.aliases` — name normalisation and alias tables (makes, colours, body types).
* :mod:`watchlists.colors` — the confusion table (partial credit for confusable colours); the colour names and
  shades are the shared :mod:`classifiers.color.vocabulary`.
* :mod:`watchlists.plates` — plate patterns with ``?``/``*`` wildcards, plate reads.
* :mod:`watchlists.vocabulary` — the makes and models the description parser knows (label sets + built-in list).
* :mod:`watchlists.parser` — alert descriptions → entries; every token placed or reported. Its passes:
  :mod:`~watchlists.parse_tokens`, :mod:`~watchlists.parse_plates`, :mod:`~watchlists.parse_qualifiers`,
  :mod:`~watchlists.parse_names`, :mod:`~watchlists.parse_colors`, :mod:`~watchlists.parse_years`.
* :mod:`watchlists.matching` — :class:`~watchlists.matching.Matcher`: classification → matches with scores,
  factors and a per-field breakdown; built from :mod:`~watchlists.field_weights` (per-field label weights),
  :mod:`~watchlists.make_model_labels`, :mod:`~watchlists.match_plan` and :mod:`~watchlists.match_result`
  (:class:`~watchlists.match_result.Match` and its explanation types).
* :mod:`watchlists.live` — the matcher the pipeline uses, swapped whole on reload.
* :mod:`watchlists.store` — entries managed in Redis (on :mod:`redisbus.store`'s hash, revision and channel).
* :mod:`watchlists.reload` — keeps the live matcher current from the file and Redis.
* :mod:`watchlists.evaluation` — precision/recall of a watchlist's alerts on a labelled image set.
* :mod:`watchlists.cooldown` — one alert per camera and entry per period (and only for active entries).
* :mod:`watchlists.alerts` — the versioned alert message and its JSON schema.
* :mod:`watchlists.publisher` — writes alerts to Redis (stream, channel, snapshot) without losing any.
* :mod:`watchlists.consumer` — reads them back in a consumer group (``alerts tail``; on :mod:`redisbus.streams`).
* :mod:`watchlists.reference_consumer` — a minimal consumer to copy into other projects (redis-py only).
* :mod:`watchlists.settings` — the settings models (the Redis connection's: :mod:`redisbus.settings`).
* :mod:`watchlists.field_tables` — the field tables of the docs, generated from the models.
"""
