"""``train``: labelled images + backbone → one ONNX classifier (backbone + chosen head) with metadata.

Steps: load the labelled set; hold out a test part (written as ``<output>.holdout.csv`` for ``eval``); split the
rest into fit/validation per class; embed every training image and its augmented copies (cached); try the head
candidates on the fit part, choose by validation top-1, refit the winner on all training images; export one graph,
check it against the head run in numpy, and write the training list (``<output>.train.csv``) and a summary JSON.

Incremental classes (``base`` + ``add``): the base model's ``embedding`` output is the backbone, its training list
(recorded in its metadata) is reused with the cached embeddings, and only the head is retrained with the new images.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field, model_validator

from classifiers.manifest import load_manifest
from classifiers.preprocess import prepare_batch
from classifiers.training.augment import AugmentConfig
from classifiers.training.backbone import BACKBONE_SHA_KEY, Backbone
from classifiers.training.cache import EmbeddingCache, default_cache_dir
from classifiers.training.dataset import (
    LabelledSet,
    load_labelled,
    merge_sets,
    require_per_class,
    stratified_split,
    write_labels_csv,
)
from classifiers.training.embed import embed_views, hash_files, read_image
from classifiers.training.errors import DatasetError, TrainingError
from classifiers.training.export import PROBS_OUTPUT, build_classifier_graph
from classifiers.training.heads import (
    HEAD_KINDS,
    CandidateScore,
    apply_ops,
    default_candidates,
    estimator_to_ops,
    fit_estimator,
    select_head,
)

log = logging.getLogger(__name__)

# Default task names for well-known label columns (the service keys its heads by task).
_TASK_OF_COLUMN = {"color": "color", "colour": "color", "make": "make", "body_type": "type", "type": "type"}


class TrainConfig(BaseModel):
    """Everything ``train`` needs; the CLI builds one from its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path | None = Field(
        default=None, description="labelled folder or labels.csv; with `base`, defaults to the base's training list"
    )
    output: Path = Field(description="the ONNX file to write; side files <stem>.train.csv/.holdout.csv/.train.json")
    backbone: Path | None = Field(default=None, description="backbone ONNX with an `embedding` output")
    base: Path | None = Field(default=None, description="a classifier made by train, to extend with `add`")
    add: tuple[Path, ...] = Field(default=(), description="labelled sets with new images/classes (needs `base`)")
    label_column: str | None = Field(default=None, description="CSV column with the class (default: auto)")
    path_column: str = Field(default="path", description="CSV column with image paths")
    attribute_columns: tuple[str, ...] | None = Field(
        default=None, description="per-class columns to keep (default: make, model, year, body_type if constant)"
    )
    task: str | None = Field(default=None, description="task metadata (default from the label column)")
    holdout_fraction: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="share of each class held out for eval (0 = none)"
    )
    val_fraction: float = Field(default=0.15, gt=0.0, lt=1.0, description="share of training images to choose heads")
    seed: int | None = Field(default=None, description="split and augmentation seed (default 0, or the base's)")
    augment: AugmentConfig | None = Field(default=None, description="augmentation (default, or the base's)")
    heads: tuple[str, ...] | None = Field(
        default=None, description=f"head kinds to try from {HEAD_KINDS} (default all; with `base`, the base's kind)"
    )
    cache_dir: Path | None = Field(default_factory=default_cache_dir, description="embedding cache (None = off)")
    batch_size: int = Field(default=32, ge=1, le=1024, description="images per backbone run")
    threads: int = Field(default=0, ge=0, description="ONNX Runtime intra-op threads (0 = default)")
    providers: tuple[str, ...] = Field(default=("cpu",), description="ONNX Runtime providers, in order")
    progress: bool = Field(default=True, description="show progress bars")

    @model_validator(mode="after")
    def _sources(self) -> TrainConfig:
        if (self.backbone is None) == (self.base is None):
            raise ValueError("give exactly one of backbone (new model) or base (extend a trained model)")
        if self.add and self.base is None:
            raise ValueError("add needs base: new classes extend a model made by train")
        if self.base is None and self.data is None:
            raise ValueError("data is required")
        if self.base is not None and not self.add:
            raise ValueError("base needs add: the labelled images to add")
        return self


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` made and how it did on validation."""

    output: Path
    train_csv: Path
    holdout_csv: Path | None
    summary_json: Path
    labels: tuple[str, ...]
    head: str
    val_top1: float
    val_top3: float
    train_images: int
    val_images: int
    holdout_images: int
    embedded_views: int
    candidates: tuple[CandidateScore, ...]
    added_labels: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)


def _read_metadata(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise TrainingError(f"base model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise TrainingError(f"cannot read base model {path.name}: {type(exc).__name__}") from exc
    return {p.key: p.value for p in model.metadata_props}


def _default_task(label_column: str, attributes: tuple[str, ...]) -> str:
    if {"make", "model"} <= set(attributes):
        return "make_model"
    return _TASK_OF_COLUMN.get(label_column, label_column)


def _side_file(output: Path, suffix: str) -> Path:
    return output.with_name(f"{output.stem}{suffix}")


@dataclass(frozen=True)
class _Plan:
    """The resolved inputs: what to train on, what is held out, and how."""

    train: LabelledSet
    holdout: LabelledSet | None
    backbone: Path
    task: str
    seed: int
    augment: AugmentConfig
    heads: tuple[str, ...]
    # Exact candidates to keep (e.g. the base's "logreg(C=1)"); None keeps every candidate of the kinds.
    head_names: tuple[str, ...] | None
    provenance: dict[str, str]
    added_labels: tuple[str, ...]


def _split_holdout(data: LabelledSet, fraction: float, seed: int) -> tuple[LabelledSet, LabelledSet | None]:
    if fraction <= 0:
        require_per_class(data, 2, "(one to validate the head on)")
        return data, None
    require_per_class(data, 3, "(one held out for eval, one to validate the head on, one to train)")
    kept, held = stratified_split([item.label for item in data.items], fraction, seed)
    return data.subset(kept), data.subset(held)


def _plan_new(config: TrainConfig) -> _Plan:
    # Both are checked by TrainConfig's validator.
    assert config.data is not None
    assert config.backbone is not None
    seed = 0 if config.seed is None else config.seed
    data = load_labelled(
        config.data,
        label_column=config.label_column,
        path_column=config.path_column,
        attribute_columns=config.attribute_columns,
    )
    train_set, holdout = _split_holdout(data, config.holdout_fraction, seed)
    return _Plan(
        train=train_set,
        holdout=holdout,
        backbone=config.backbone,
        task=config.task or _default_task(data.label_column, data.attribute_columns),
        seed=seed,
        augment=config.augment or AugmentConfig(),
        heads=config.heads or HEAD_KINDS,
        head_names=None,
        provenance={"data_source": str(config.data.resolve())},
        added_labels=(),
    )


def _plan_incremental(config: TrainConfig) -> _Plan:
    assert config.base is not None  # checked by TrainConfig
    base = _read_metadata(config.base)
    if "train_data" not in base or BACKBONE_SHA_KEY not in base:
        raise TrainingError(f"base model {config.base.name} was not made by `vehiclewatch train` (no train_data)")
    label_column = config.label_column or base.get("label_column") or None
    data_path = config.data or Path(base["train_data"])
    seed = int(base.get("seed", "0")) if config.seed is None else config.seed
    old = load_labelled(data_path, label_column=label_column, path_column=config.path_column)
    require_per_class(old, 2, "(one to validate the head on)")
    new_train: list[LabelledSet] = []
    new_holdout: list[LabelledSet] = []
    for source in config.add:
        added = load_labelled(source, label_column=old.label_column, path_column=config.path_column)
        kept, held = _split_holdout(added, config.holdout_fraction, seed)
        new_train.append(kept)
        if held is not None:
            new_holdout.append(held)
    holdout_sets = list(new_holdout)
    base_holdout = base.get("holdout_data", "")
    if base_holdout and Path(base_holdout).is_file():
        holdout_sets.insert(0, load_labelled(Path(base_holdout), label_column=old.label_column))
    train_set = merge_sets([old, *new_train])
    old_labels = set(json.loads(base.get("labels", "[]")))
    added_labels = tuple(sorted(set(train_set.labels) - old_labels))
    augment = config.augment or AugmentConfig.model_validate_json(base.get("augmentation", "{}"))
    # Unless told otherwise, the new head is the base's head (same kind and settings) refit with the new images,
    # so old classes keep what worked for them.
    reuse = config.heads is None and base.get("head_type") in HEAD_KINDS and bool(base.get("head"))
    heads = config.heads or ((base["head_type"],) if reuse else HEAD_KINDS)
    return _Plan(
        train=train_set,
        holdout=merge_sets(holdout_sets) if holdout_sets else None,
        backbone=config.base,
        task=config.task or base.get("task") or _default_task(old.label_column, train_set.attribute_columns),
        seed=seed,
        augment=augment,
        heads=heads,
        head_names=(base["head"],) if reuse else None,
        provenance={
            "data_source": base.get("data_source", str(data_path)),
            "base_model": config.base.name,
            "base_trained_at": base.get("trained_at", ""),
            "added_data": json.dumps([str(p.resolve()) for p in config.add]),
            "added_labels": json.dumps(list(added_labels)),
        },
        added_labels=added_labels,
    )


def _version() -> str:
    try:
        return importlib_metadata.version("vehiclewatch")
    except importlib_metadata.PackageNotFoundError:
        return "dev"


def _metadata(
    plan: _Plan,
    backbone: Backbone,
    labels: tuple[str, ...],
    head: str,
    head_kind: str,
    scores: list[CandidateScore],
    sizes: dict[str, int],
    paths: dict[str, str],
) -> dict[str, str]:
    m = backbone.manifest
    chosen = next(s for s in scores if s.name == head)
    attributes = plan.train.class_attributes()
    meta: dict[str, str] = {
        # What the service reads (classifiers/manifest.py keys).
        "task": plan.task,
        "labels": json.dumps(list(labels)),
        "input_size": f"{m.input_height}x{m.input_width}",
        "mean": ",".join(f"{v:g}" for v in m.mean),
        "std": ",".join(f"{v:.9g}" for v in m.std),
        "color_order": m.color_order,
        "resize": m.resize,
        "input_layout": m.input_layout,
        # Per-class attributes, in label order, so the service can report make/model/year separately.
        "label_column": plan.train.label_column,
        "label_attributes": json.dumps({c: [attributes[c].get(label, "") for label in labels] for c in attributes}),
        # Provenance.
        "description": f"vehiclewatch {plan.task} classifier: {len(labels)} classes, {head} head on the "
        f"embedding of {backbone.metadata.get('backbone', backbone.path.name)}",
        "head": head,
        "head_type": head_kind,
        "head_candidates": json.dumps({s.name: round(s.top1, 4) for s in scores}),
        "validation_top1": f"{chosen.top1:.4f}",
        "validation_top3": f"{chosen.top3:.4f}",
        "num_classes": str(len(labels)),
        "embedding_dim": str(backbone.dim),
        "augmentation": plan.augment.model_dump_json(),
        "seed": str(plan.seed),
        "backbone": backbone.metadata.get("backbone", backbone.path.name),
        BACKBONE_SHA_KEY: backbone.identity,
        "backbone_source": backbone.metadata.get("backbone_source", backbone.metadata.get("source", "")),
        "license": backbone.metadata.get("license", ""),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trainer": f"vehiclewatch {_version()}",
        **{k: str(v) for k, v in sizes.items()},
        **paths,
        **plan.provenance,
    }
    return meta


def _verify(path: Path, backbone: Backbone, items: list[Path], ops: Any, labels: tuple[str, ...]) -> None:
    """Runs the written file on a few training images (batch > 1) and checks it equals backbone + head."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    manifest = load_manifest(
        path, dict(session.get_modelmeta().custom_metadata_map), [o.name for o in session.get_outputs()]
    )
    if manifest.heads.get(PROBS_OUTPUT) != labels:
        raise TrainingError(f"{path.name}: the written labels do not read back")
    images = [read_image(p) for p in items]
    probs, embedding = session.run(
        [PROBS_OUTPUT, "embedding"], {session.get_inputs()[0].name: prepare_batch(images, manifest)}
    )
    expected = apply_ops(ops, backbone.embed(images))
    if not np.allclose(probs, expected, atol=1e-4) or not np.allclose(embedding, backbone.embed(images), atol=1e-4):
        raise TrainingError(
            f"{path.name}: exported graph disagrees with backbone + head (max diff "
            f"{float(np.abs(probs - expected).max()):.2g})"
        )


def train(config: TrainConfig) -> TrainResult:
    """Trains and writes a classifier; see the module docstring for the steps.

    Raises:
        TrainingError: bad data, backbone or options (a ``ValueError`` with a one-line message).
        ModelLoadError: the backbone file is missing or unreadable.
    """
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    plan = _plan_incremental(config) if config.base is not None else _plan_new(config)
    backbone = Backbone(plan.backbone, providers=config.providers, threads=config.threads)
    labels = plan.train.labels
    if len(labels) < 2:
        raise DatasetError(f"{plan.train.source} has only one label ({labels[0]!r}); a classifier needs at least 2")
    index = {label: i for i, label in enumerate(labels)}
    y = np.asarray([index[item.label] for item in plan.train.items], np.int64)
    fit_idx, val_idx = stratified_split([item.label for item in plan.train.items], config.val_fraction, plan.seed + 1)

    paths = [item.path for item in plan.train.items]
    t = time.perf_counter()
    hashes = hash_files(paths, progress=config.progress)
    cache = EmbeddingCache(config.cache_dir, backbone.identity)
    views = embed_views(
        backbone,
        paths,
        hashes,
        augment=plan.augment,
        seed=plan.seed,
        cache=cache,
        batch_size=config.batch_size,
        progress=config.progress,
    )
    seconds["embed"] = time.perf_counter() - t
    n_views, _, dim = views.shape

    t = time.perf_counter()
    candidates = default_candidates(plan.heads, plan.seed)
    if plan.head_names is not None:
        candidates = [c for c in candidates if c.name in plan.head_names] or candidates
    best, scores = select_head(
        candidates,
        views[:, fit_idx].reshape(-1, dim),
        np.tile(y[fit_idx], n_views),
        views[0, val_idx],
        y[val_idx],
        progress=config.progress,
    )
    seconds["select"] = time.perf_counter() - t
    t = time.perf_counter()
    ops = estimator_to_ops(fit_estimator(best, views.reshape(-1, dim), np.tile(y, n_views)))
    seconds["refit"] = time.perf_counter() - t

    output = config.output
    output.parent.mkdir(parents=True, exist_ok=True)
    train_csv = _side_file(output, ".train.csv")
    holdout_csv = _side_file(output, ".holdout.csv") if plan.holdout is not None else None
    write_labels_csv(plan.train, train_csv)
    if plan.holdout is not None and holdout_csv is not None:
        write_labels_csv(plan.holdout, holdout_csv)
    sizes = {
        "train_images": len(paths),
        "validation_images": len(val_idx),
        "holdout_images": 0 if plan.holdout is None else len(plan.holdout.items),
        "embedded_views": n_views * len(paths),
    }
    side = {"train_data": str(train_csv.resolve()), "holdout_data": str(holdout_csv.resolve()) if holdout_csv else ""}
    meta = _metadata(plan, backbone, labels, best.name, best.kind, scores, sizes, side)

    t = time.perf_counter()
    model = build_classifier_graph(plan.backbone, ops, meta)
    tmp = output.with_name(output.name + ".tmp")
    onnx.save(model, str(tmp))
    _verify(tmp, backbone, paths[: min(4, len(paths))], ops, labels)
    tmp.replace(output)
    seconds["export"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - started

    chosen = next(s for s in scores if s.name == best.name)
    summary_json = _side_file(output, ".train.json")
    result = TrainResult(
        output=output,
        train_csv=train_csv,
        holdout_csv=holdout_csv,
        summary_json=summary_json,
        labels=labels,
        head=best.name,
        val_top1=chosen.top1,
        val_top3=chosen.top3,
        train_images=len(paths),
        val_images=len(val_idx),
        holdout_images=sizes["holdout_images"],
        embedded_views=sizes["embedded_views"],
        candidates=tuple(scores),
        added_labels=plan.added_labels,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
    summary: dict[str, Any] = {k: v for k, v in asdict(result).items() if k != "labels"}
    summary.update({"metadata": meta, "num_labels": len(labels)})
    summary_json.write_text(json.dumps(summary, indent=2, default=str))
    return result
