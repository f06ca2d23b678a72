"""`vehiclewatch watchlist`: parse alert descriptions, manage the Redis-managed entries, export schemas, evaluate.

Entries added here live in Redis (``watchlist.redis_key``); every running worker picks a change up at once (change
notification) or within one reload cycle (``watchlist.reload_interval_s``).

Exit status (see :mod:`streamer.cli.errors`): ``remove`` of an id that is not stored and ``import`` of a file with
invalid entries are bad input, exit 2, after the valid part is done and each problem is listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from streamer.cli.connection import client_settings, connect_redis, redis_options
from streamer.cli.defaults import MODELS_ENV, default_models_dir
from streamer.cli.errors import clear_errors, fail
from streamer.cli.watchlist_calibrate import calibrate
from streamer.cli.watchlist_evaluate import evaluate

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """``"24h"``, ``"3d"``, ``"90m"``, ``"1w"`` from now, or an ISO time with a time zone."""
    match = _DURATION.match(text.strip().lower())
    start = now or datetime.now(UTC)
    if match is not None:
        return start + timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--expires: {text!r} is neither a duration (24h, 3d, 90m) nor an ISO time") from None
    if when.tzinfo is None:
        raise ValueError(f"--expires: {text!r} needs a time zone (e.g. 2026-11-24T08:00:00Z)")
    return when.astimezone(UTC)


def _field_values(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set key=value`` pairs (YAML values: numbers, lists, null)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {pair!r}: write key=value")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def _vocabulary(models: Path | None, classifiers: Sequence[Path]) -> Any:
    """The parser's vocabulary: the built-in one, plus the labels of the make and make+model classifiers given."""
    from watchlists.vocabulary import DEFAULT_VOCABULARY, Vocabulary

    files = list(classifiers)
    if not files and models is not None and models.is_dir():
        files = sorted(p for p in models.glob("*.onnx") if "make" in p.name)
    if not files:
        return DEFAULT_VOCABULARY
    heads = _heads(files)
    return Vocabulary.build(heads.get("make", ()), heads.get("make_model", ()))


def _heads(files: Sequence[Path]) -> dict[str, tuple[str, ...]]:
    """Head name → labels of each classifier file, opened on the CPU the one way classifiers are opened."""
    from classifiers.registry import open_classifier
    from classifiers.settings import ClassifierModelSettings

    heads: dict[str, tuple[str, ...]] = {}
    for path in files:
        heads.update(open_classifier(ClassifierModelSettings(model=path, providers=("cpu",)), crop_margin=0.0).heads)
    return heads


_models_option = click.option(
    "--models",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_models_dir,
    help=f"Folder with the classifiers whose make/make+model labels the parser knows (env {MODELS_ENV}).",
)
_classifier_option = click.option(
    "--classifier",
    "classifiers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Classifier ONNX file (repeat); overrides --models.",
)
_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Service config file (its redis and watchlist sections).",
)


@contextmanager
def _store(config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None) -> Iterator[Any]:
    """The Redis entry store named by the config (or the defaults), connected; closed afterwards."""
    from watchlists.store import EntryStore

    with clear_errors():
        settings = client_settings(config_path, redis_url, embedded_redis_port)
        watchlist_settings = settings.watchlist
        connection = connect_redis(settings)
    try:
        yield EntryStore(connection.client, watchlist_settings.redis_key, watchlist_settings.redis_channel)
    finally:
        connection.close()


def _entry_line(entry: Any, now: datetime) -> str:
    expires = "never" if entry.expires_at is None else f"{entry.expires_at:%Y-%m-%d %H:%M}Z"
    state = " EXPIRED" if entry.expires_at is not None and entry.expires_at <= now else ""
    return f"{entry.id}  [{entry.priority}]{state} expires {expires}  {entry.summary()}  — {entry.description}"


def _parsed_json(parsed: Any) -> dict[str, Any]:
    from watchlists.entries import WatchlistError

    data: dict[str, Any] = {
        "description": parsed.text,
        "fields": dict(parsed.fields),
        "unplaced": [t.text for t in parsed.unplaced],
        "notes": list(parsed.notes),
        "tokens": [{"text": t.text, "start": t.start, "end": t.end, "role": t.role} for t in parsed.tokens],
    }
    try:
        data["entry"] = parsed.to_entry().model_dump(mode="json", exclude_defaults=True)
    except WatchlistError as exc:
        data["error"] = str(exc)
    return data


@click.group()
def watchlist() -> None:
    """Parse alert descriptions; add, list, update and remove the entries kept in Redis; schemas; evaluation."""


@watchlist.command()
@click.argument("texts", nargs=-1, required=True)
@_models_option
@_classifier_option
@click.option("--json", "as_json", is_flag=True, help="Print the fields, every token's role and the entry as JSON.")
def parse(texts: tuple[str, ...], models: Path | None, classifiers: tuple[Path, ...], as_json: bool) -> None:
    """Show what each alert description TEXT becomes: fields, uncertain fields, words not placed, notes."""
    from watchlists.parser import describe, parse_description

    with clear_errors():
        vocabulary = _vocabulary(models, classifiers)
    results = [parse_description(text, vocabulary) for text in texts]
    if as_json:
        out = [_parsed_json(p) for p in results]
        click.echo(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return
    click.echo("\n\n".join(describe(p) for p in results))


def _entry_options(func: Any) -> Any:
    for option in reversed(
        (
            click.option("--id", "entry_id", help="Entry id (default: made from the fields and a hash)."),
            click.option(
                "--priority", type=click.Choice(["low", "normal", "high", "critical"]), help="Priority of its alerts."
            ),
            click.option("--source", help="Where it comes from (agency, alert number, operator)."),
            click.option("--expires", help="When it stops matching: 24h, 3d, 90m ... from now, or an ISO time."),
            click.option("--threshold", type=float, help="Score it needs (default: watchlist.default_threshold)."),
            click.option("--set", "sets", multiple=True, help="key=value for any entry field (repeat)."),
        )
    ):
        func = option(func)
    return func


def _extra_fields(
    priority: str | None, source: str | None, expires: str | None, threshold: float | None, sets: Sequence[str]
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if priority is not None:
        extra["priority"] = priority
    if source is not None:
        extra["source"] = source
    if expires is not None:
        extra["expires_at"] = parse_expiry(expires)
    if threshold is not None:
        extra["threshold"] = threshold
    extra.update(_field_values(sets))
    return extra


@watchlist.command()
@click.argument("text")
@_entry_options
@click.option("--replace", is_flag=True, help="Replace an entry with the same id instead of refusing.")
@_models_option
@_classifier_option
@_config_option
@redis_options
def add(
    text: str,
    entry_id: str | None,
    priority: str | None,
    source: str | None,
    expires: str | None,
    threshold: float | None,
    sets: tuple[str, ...],
    replace: bool,
    models: Path | None,
    classifiers: tuple[Path, ...],
    config_path: Path | None,
    redis_url: str | None,
    embedded_redis_port: int | None,
) -> None:
    """Parse the alert description TEXT into an entry and store it in Redis (all workers pick it up)."""
    from watchlists.parser import describe, parse_description

    with clear_errors():
        parsed = parse_description(text, _vocabulary(models, classifiers))
        entry = parsed.to_entry(entry_id, **_extra_fields(priority, source, expires, threshold, sets))
        entry = entry.model_copy(update={"created_at": entry.created_at or datetime.now(UTC).replace(microsecond=0)})
    with _store(config_path, redis_url, embedded_redis_port) as store, clear_errors():
        revision = store.put(entry, replace=replace)
    click.echo(describe(parsed))
    click.echo(f"added {entry.id} (revision {revision}): {entry.summary()}")


@watchlist.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@_config_option
@redis_options
def list_entries(
    as_json: bool, config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None
) -> None:
    """List the entries stored in Redis (expired ones are marked; they no longer match)."""
    with _store(config_path, redis_url, embedded_redis_port) as store:
        snapshot = store.load()
    if as_json:
        rows = [entry.model_dump(mode="json") for entry in snapshot.entries]
        click.echo(json.dumps({"revision": snapshot.revision, "entries": rows}, indent=2))
    else:
        now = datetime.now(UTC)
        for entry in snapshot.entries:
            click.echo(_entry_line(entry, now))
        click.echo(f"{len(snapshot.entries)} entries (revision {snapshot.revision})", err=True)
    for problem in snapshot.problems:
        click.echo(f"invalid stored entry: {problem}", err=True)


@watchlist.command()
@click.argument("ids", nargs=-1, required=True)
@_config_option
@redis_options
def remove(
    ids: tuple[str, ...], config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None
) -> None:
    """Remove entries by id; exit status 2 if some id was not stored (the others are removed)."""
    with _store(config_path, redis_url, embedded_redis_port) as store:
        removed = store.remove(ids)
    for entry_id in removed:
        click.echo(f"removed {entry_id}")
    missing = [entry_id for entry_id in ids if entry_id not in removed]
    if missing:
        fail(f"not stored: {', '.join(missing)}")


@watchlist.command()
@click.argument("entry_id")
@click.option("--priority", type=click.Choice(["low", "normal", "high", "critical"]), help="New priority.")
@click.option("--source", help="New source.")
@click.option("--expires", help="New expiry: 24h, 3d ... from now, an ISO time, or 'never'.")
@click.option("--threshold", type=float, help="New threshold.")
@click.option("--set", "sets", multiple=True, help="key=value for any entry field (repeat); key= clears it.")
@_config_option
@redis_options
def update(
    entry_id: str,
    priority: str | None,
    source: str | None,
    expires: str | None,
    threshold: float | None,
    sets: tuple[str, ...],
    config_path: Path | None,
    redis_url: str | None,
    embedded_redis_port: int | None,
) -> None:
    """Change fields of a stored entry (validated as a whole before it is written)."""
    from pydantic import ValidationError

    from watchlists.entries import WatchlistEntry, WatchlistError, entry_error_message

    never = expires is not None and expires.strip().lower() == "never"
    with clear_errors():
        changes = _extra_fields(priority, source, None if never else expires, threshold, sets)
    if never:
        changes["expires_at"] = None
    if not changes:
        fail("nothing to update: give --priority, --source, --expires, --threshold or --set")
    with _store(config_path, redis_url, embedded_redis_port) as store, clear_errors():
        current = store.get(entry_id)
        if current is None:
            raise WatchlistError(f"watchlist entry {entry_id!r} is not stored in {store.source}")
        data = current.model_dump(mode="json") | changes
        try:
            entry = WatchlistEntry.model_validate(data)
        except ValidationError as exc:
            raise WatchlistError(f"watchlist entry {entry_id!r}: {entry_error_message(exc)}") from None
        revision = store.put(entry, replace=True)
    click.echo(f"updated {entry.id} (revision {revision}): {entry.summary()}")


@watchlist.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--replace", is_flag=True, help="Replace stored entries with the same ids (default: refuse them).")
@click.option("--dry-run", is_flag=True, help="Only validate and show what would be stored.")
@click.option("--expires", help="Expiry for entries that have none: 24h, 3d ... or an ISO time.")
@click.option("--source", help="Source for entries that have none.")
@_models_option
@_classifier_option
@_config_option
@redis_options
def import_entries(
    path: Path,
    replace: bool,
    dry_run: bool,
    expires: str | None,
    source: str | None,
    models: Path | None,
    classifiers: tuple[Path, ...],
    config_path: Path | None,
    redis_url: str | None,
    embedded_redis_port: int | None,
) -> None:
    """Store the entries of PATH in Redis: a watchlist YAML file, or a text file of alert descriptions (one per
    line, optionally 'id: description'). Valid entries are stored even when others are invalid; each invalid one
    is reported with its field and reason, and the exit status is then 2."""
    from watchlists.entries import WatchlistEntry, load_watchlist_lenient

    problems: list[str] = []
    entries: list[WatchlistEntry] = []
    with clear_errors():
        defaults: dict[str, Any] = {}
        if expires is not None:
            defaults["expires_at"] = parse_expiry(expires)
        if source is not None:
            defaults["source"] = source
        if path.suffix.lower() in (".yaml", ".yml"):
            loaded = load_watchlist_lenient(path)
            entries = list(loaded.entries)
            problems = [str(p) for p in loaded.problems]
        else:
            entries, problems = _descriptions(path, _vocabulary(models, classifiers))
        entries = [_with_defaults(entry, defaults) for entry in entries]
    for problem in problems:
        click.echo(f"invalid: {problem}", err=True)
    if dry_run:
        for entry in entries:
            click.echo(f"would store {entry.id}: {entry.summary()}")
    elif entries:
        with _store(config_path, redis_url, embedded_redis_port) as store, clear_errors():
            revision = store.put_many(entries, replace=replace)
        click.echo(f"stored {len(entries)} entries (revision {revision})")
    if problems:
        fail(f"{len(problems)} invalid entries not stored")


def _with_defaults(entry: Any, defaults: Mapping[str, Any]) -> Any:
    update = {key: value for key, value in defaults.items() if getattr(entry, key) is None}
    return entry.model_copy(update=update) if update else entry


def _descriptions(path: Path, vocabulary: Any) -> tuple[list[Any], list[str]]:
    from watchlists.entries import WatchlistError
    from watchlists.parser import parse_description

    entries: list[Any] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        entry_id: str | None = None
        head, sep, rest = text.partition(":")
        if sep and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", head.strip()) and rest.strip():
            entry_id, text = head.strip(), rest.strip()
        try:
            entries.append(parse_description(text, vocabulary).to_entry(entry_id))
        except WatchlistError as exc:
            problems.append(f"{path}: line {number}: {exc}")
    return entries, problems


@watchlist.command()
@click.argument("what", type=click.Choice(["alert", "entry"]), default="alert")
def schema(what: str) -> None:
    """Print the JSON Schema of an alert message (default) or of a watchlist entry."""
    from watchlists.alerts import alert_json_schema
    from watchlists.entries import WatchlistEntry

    data = alert_json_schema() if what == "alert" else WatchlistEntry.model_json_schema(mode="validation")
    click.echo(json.dumps(data, indent=2))


watchlist.add_command(evaluate)
watchlist.add_command(calibrate)
