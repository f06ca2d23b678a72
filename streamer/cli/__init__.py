"""The `vehiclewatch` command line: one module per command group, attached to the root group in :mod:`.main`.

Command modules: :mod:`.run`, :mod:`.models` (detect, classify), :mod:`.alerts`, :mod:`.config`, :mod:`.watchlist`
(with :mod:`.watchlist_evaluate`), :mod:`.bench` and :mod:`.tools` (train and eval from
``classifiers.cli_train_eval``). What they share sits in small modules that import no command module:
:mod:`.errors` (the one error convention and its exit statuses), :mod:`.defaults` (default model files,
``VEHICLEWATCH_MODELS``), :mod:`.options` (options several commands share), :mod:`.connection` (Redis for client
commands, read the way `run` reads it) and :mod:`.signals` (Ctrl-C handling).
"""
