"""train: a synthetic backbone (built with onnx.helper) and synthetic labelled images (coloured squares)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from classifiers.manifest import load_manifest
from classifiers.preprocess import prepare_batch
from classifiers.training.augment import AugmentConfig, augment_image, view_rng
from classifiers.training.backbone import Backbone
from classifiers.training.cache import EmbeddingCache
from classifiers.training.dataset import load_labelled, stratified_split, write_labels_csv
from classifiers.training.embed import embed_views, hash_files, read_image
from classifiers.training.errors import BackboneError, DatasetError
from classifiers.training.export import build_classifier_graph
from classifiers.training.heads import apply_ops, default_candidates, estimator_to_ops, fit_estimator
from classifiers.training.trainer import TrainConfig, train
from tests.conftest import shared_path

SIZE = 16
COLOURS: dict[str, tuple[int, int, int]] = {"red": (30, 30, 220), "green": (40, 200, 40), "blue": (220, 60, 30)}
# Per-class attributes as a make/model/year dataset would have them (constant within a class).
ATTRIBUTES = {"red": ("Acme", "Rocket", "2001"), "green": ("Acme", "Sled", "2002"), "blue": ("Bolt", "Dash", "2003")}


def make_backbone(
    path: Path,
    *,
    embedding_name: str = "embedding",
    input_size: int = SIZE,
    metadata_size: int = SIZE,
    dim: int = 12,
) -> Path:
    """A small CNN: Conv(3→dim) → ReLU → global average pool → ``embedding``, plus its own 2-class ``probs``."""
    rng = np.random.default_rng(0)
    weight = rng.normal(0, 0.5, (dim, 3, 3, 3)).astype(np.float32)
    bias = rng.normal(0, 0.1, dim).astype(np.float32)
    head = rng.normal(0, 1, (dim, 2)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "W", "B"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
        helper.make_node("Flatten", ["pool"], [embedding_name]),
        helper.make_node("MatMul", [embedding_name, "H"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic_backbone",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, input_size, input_size])],
        [
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info(embedding_name, TensorProto.FLOAT, ["batch", dim]),
        ],
        initializer=[
            numpy_helper.from_array(weight, "W"),
            numpy_helper.from_array(bias, "B"),
            numpy_helper.from_array(head, "H"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    meta = {
        "task": "make",
        "labels": json.dumps(["x", "y"]),
        "input_size": f"{metadata_size}x{metadata_size}",
        "mean": "127.5,127.5,127.5",
        "scale": "0.00784",
        "color_order": "RGB",
        "license": "test-only",
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def square_image(colour: tuple[int, int, int], rng: np.random.Generator, size: int = 24) -> NDArray[np.uint8]:
    """A coloured square at a random place on a noisy grey background (BGR)."""
    image = rng.integers(90, 140, (size, size, 3)).astype(np.uint8)
    side = int(rng.integers(10, 16))
    x, y = rng.integers(0, size - side, 2)
    image[y : y + side, x : x + side] = np.clip(np.asarray(colour) + rng.integers(-15, 16, 3), 0, 255)
    return image


def make_dataset(
    root: Path, *, per_class: int = 6, colours: Sequence[str] = tuple(COLOURS), seed: int = 0, csv_file: bool = True
) -> Path:
    """Writes images and (with ``csv_file``) a labels.csv with make/model/year columns; returns the folder."""
    rng = np.random.default_rng(seed)
    rows = []
    for name in colours:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            relative = f"{name}/{name}_{seed}_{i}.png"
            cv2.imwrite(str(root / relative), square_image(COLOURS.get(name, (0, 220, 220)), rng))
            make, model, year = ATTRIBUTES.get(name, ("Zeta", "Zoom", "2024"))
            rows.append({"path": relative, "label": name, "make": make, "model": model, "year": year})
    if csv_file:
        with (root / "labels.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return root


def run_model(path: Path, images: Sequence[NDArray[np.uint8]]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``probs`` and ``embedding`` of a classifier file, preprocessed the way the service does."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    manifest = load_manifest(path, dict(session.get_modelmeta().custom_metadata_map), ["probs", "embedding"])
    probs, embedding = session.run(["probs", "embedding"], {"input": prepare_batch(list(images), manifest)})
    return np.asarray(probs), np.asarray(embedding)


@pytest.fixture
def backbone_path(tmp_path: Path) -> Path:
    return make_backbone(tmp_path / "backbone.onnx")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


def _config(data: Path | None, output: Path, **kwargs: object) -> TrainConfig:
    return TrainConfig.model_validate(
        {"data": data, "output": output, "cache_dir": output.parent / "cache", "progress": False, **kwargs}
    )


def test_train_writes_one_graph_that_loads_carries_metadata_and_classifies_its_images(
    tmp_path: Path, backbone_path: Path, dataset: Path
) -> None:
    output = tmp_path / "out" / "model.onnx"
    result = train(_config(dataset, output, backbone=backbone_path, heads=("prototype", "logreg")))

    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["probs", "embedding"]
    assert session.get_inputs()[0].shape[0] == "batch"
    meta = dict(session.get_modelmeta().custom_metadata_map)
    manifest = load_manifest(output, meta, ["probs", "embedding"])
    assert manifest.heads == {"probs": ("blue", "green", "red")}
    assert manifest.task == "make_model"
    assert (manifest.input_height, manifest.input_width, manifest.color_order) == (SIZE, SIZE, "RGB")
    assert manifest.mean == (127.5, 127.5, 127.5)
    assert manifest.std == pytest.approx((1 / 0.00784,) * 3)
    assert json.loads(meta["label_attributes"]) == {
        "make": ["Bolt", "Acme", "Acme"],
        "model": ["Dash", "Sled", "Rocket"],
        "year": ["2003", "2002", "2001"],
    }
    assert meta["label_column"] == "label"
    assert meta["head"] == result.head
    assert meta["head_type"] in {"prototype", "logreg"}
    assert float(meta["validation_top1"]) == pytest.approx(result.val_top1, abs=1e-4)
    assert meta["train_images"] == "18"
    assert meta["license"] == "test-only"
    assert Path(meta["train_data"]) == result.train_csv.resolve()
    assert meta["trained_at"]
    assert meta["data_source"] == str(dataset.resolve())

    data = load_labelled(dataset)
    probs, _ = run_model(output, [read_image(item.path) for item in data.items])
    predicted = [manifest.heads["probs"][i] for i in probs.argmax(axis=1)]
    assert predicted == [item.label for item in data.items]
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    summary = json.loads(result.summary_json.read_text())
    assert summary["head"] == result.head


def _embeddings(backbone_path: Path, n: int) -> tuple[list[NDArray[np.uint8]], NDArray[np.float32]]:
    rng = np.random.default_rng(1)
    images = [square_image(list(COLOURS.values())[i % 3], rng) for i in range(n)]
    return images, Backbone(backbone_path).embed(images)


@pytest.mark.parametrize(
    ("kind", "n_classes"),
    [("prototype", 3), ("logreg", 3), ("logreg", 2), ("mlp", 3), ("mlp", 2)],
)
def test_single_graph_equals_backbone_then_head(tmp_path: Path, backbone_path: Path, kind: str, n_classes: int) -> None:
    images, x = _embeddings(backbone_path, 30)
    y = np.arange(30, dtype=np.int64) % n_classes
    candidate = next(c for c in default_candidates([kind], seed=0) if c.kind == kind)
    estimator = fit_estimator(candidate, x, y)
    ops = estimator_to_ops(estimator)
    # The layer list reproduces scikit-learn's own probabilities.
    assert np.allclose(apply_ops(ops, x), estimator.predict_proba(x), atol=1e-5)

    meta = {
        "labels": json.dumps([f"c{i}" for i in range(n_classes)]),
        "input_size": f"{SIZE}x{SIZE}",
        "mean": "127.5",
        "scale": "0.00784",
    }
    model = build_classifier_graph(backbone_path, ops, meta)
    path = tmp_path / "joined.onnx"
    onnx.save(model, str(path))
    probs, embedding = run_model(path, images)
    assert np.allclose(embedding, x, atol=1e-6)
    assert np.allclose(probs, estimator.predict_proba(x), atol=1e-5)
    # The backbone's own classifier branch is gone: only the new head's nodes produce probs.
    assert not any(node.op_type == "MatMul" and "H" in node.input for node in model.graph.node)


def test_incremental_class_retrains_head_only_and_keeps_old_classes(
    tmp_path: Path, backbone_path: Path, dataset: Path
) -> None:
    base = tmp_path / "out" / "base.onnx"
    base_result = train(_config(dataset, base, backbone=backbone_path, heads=("logreg",), holdout_fraction=0.2, seed=3))
    assert base_result.holdout_csv is not None
    added = make_dataset(tmp_path / "add", colours=["yellow"], per_class=8, seed=5, csv_file=False)

    extended = tmp_path / "out" / "extended.onnx"
    result = train(_config(None, extended, base=base, add=(added,), holdout_fraction=0.25))

    assert result.labels == ("blue", "green", "red", "yellow")
    assert result.added_labels == ("yellow",)
    assert result.head == base_result.head  # the base's head (kind and settings) is refit
    assert [c.name for c in result.candidates] == [base_result.head]
    meta = dict(
        ort.InferenceSession(str(extended), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    )
    assert meta["base_model"] == "base.onnx"
    assert json.loads(meta["added_labels"]) == ["yellow"]
    assert (
        meta["backbone_sha256"]
        == dict(
            ort.InferenceSession(str(base), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
        )["backbone_sha256"]
    )
    # A folder-per-class addition has no make/model columns: its attributes are empty, the old ones stay.
    assert json.loads(meta["label_attributes"])["make"] == ["Bolt", "Acme", "Acme", ""]
    assert meta["seed"] == "3"
    # The held-out list now holds the base's held-out images and some of the new ones.
    held = load_labelled(result.holdout_csv or Path())
    assert held.counts()["yellow"] == 2
    assert sum(n for label, n in held.counts().items() if label != "yellow") == base_result.holdout_images
    # The whole dataset, old and new, is classified correctly.
    every = [*load_labelled(dataset).items, *load_labelled(added).items]
    probs, _ = run_model(extended, [read_image(i.path) for i in every])
    assert [result.labels[i] for i in probs.argmax(axis=1)] == [i.label for i in every]


class CountingBackbone(Backbone):
    """The real backbone, counting how many images it embeds."""

    embedded = 0

    def embed(self, images_bgr: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        self.embedded += len(images_bgr)
        return super().embed(images_bgr)


def test_embedding_cache_is_reused_across_runs_and_keyed_by_view(
    backbone_path: Path, dataset: Path, tmp_path: Path
) -> None:
    items = load_labelled(dataset).items
    paths = [i.path for i in items]
    hashes = hash_files(paths)
    augment = AugmentConfig(copies=2)
    backbone = CountingBackbone(backbone_path)
    cache = EmbeddingCache(tmp_path / "cache", backbone.identity)
    first = embed_views(backbone, paths, hashes, augment=augment, seed=0, cache=cache, batch_size=5)
    assert backbone.embedded == 3 * len(paths)
    again = embed_views(backbone, paths, hashes, augment=augment, seed=0, cache=cache)
    assert backbone.embedded == 3 * len(paths)  # nothing recomputed
    assert np.array_equal(first, again)
    # Augmented views differ from the originals; a new seed is a new view; originals are shared.
    assert not np.allclose(first[1], first[0])
    reseeded = embed_views(backbone, paths, hashes, augment=augment, seed=1, cache=cache)
    assert backbone.embedded == 5 * len(paths)
    assert np.array_equal(reseeded[0], first[0])
    assert np.allclose(first[0], backbone.embed([read_image(p) for p in paths]), atol=1e-6)


def test_augmentation_is_a_pure_function_of_its_key() -> None:
    image = square_image((30, 30, 220), np.random.default_rng(0), size=40)
    config = AugmentConfig()
    a = augment_image(image, config, view_rng(0, 1, "ab" * 32))
    b = augment_image(image, config, view_rng(0, 1, "ab" * 32))
    c = augment_image(image, config, view_rng(0, 2, "ab" * 32))
    assert np.array_equal(a, b)
    assert a.shape[2] == 3
    assert a.dtype == np.uint8
    assert a.shape[0] >= 40 * (1 - 2 * config.crop_jitter) - 1
    assert not (a.shape == c.shape and np.array_equal(a, c))
    assert config.view_key(0, 0) == "orig"
    assert config.view_key(0, 1) != config.view_key(1, 1) != AugmentConfig(flip=False).view_key(1, 1)
    assert np.array_equal(
        augment_image(
            image,
            AugmentConfig(flip=False, crop_jitter=0, brightness=0, contrast=0, saturation=0),
            view_rng(0, 1, "cd" * 32),
        ),
        image,
    )


def test_stratified_split_keeps_every_class_on_both_sides() -> None:
    labels = ["a"] * 10 + ["b"] * 3 + ["c"] * 2
    kept, held = stratified_split(labels, 0.2, seed=7)
    assert sorted([*kept, *held]) == list(range(15))
    assert {labels[i] for i in kept} == {labels[i] for i in held} == {"a", "b", "c"}
    assert [labels[i] for i in held].count("a") == 2
    again = stratified_split(labels, 0.2, seed=7)
    assert np.array_equal(again[1], held)


def test_folder_per_class_and_attribute_detection(tmp_path: Path) -> None:
    folders = load_labelled(make_dataset(tmp_path / "f", csv_file=False))
    assert folders.labels == ("blue", "green", "red")
    assert folders.label_column == "label"
    from_csv = load_labelled(make_dataset(tmp_path / "c"))
    assert from_csv.attribute_columns == ("make", "model", "year")
    assert from_csv.class_attributes()["make"] == {"red": "Acme", "green": "Acme", "blue": "Bolt"}
    assert load_labelled(tmp_path / "c", label_column="make").attribute_columns == ()


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _bad_input(case: str, tmp_path: Path, dataset: Path, backbone: Path) -> tuple[Path, Path]:
    """Returns (data, backbone) for a broken case."""
    rows = list(csv.DictReader((dataset / "labels.csv").open()))
    if case == "missing image":
        rows[4]["path"] = "red/nowhere.png"
        _write_csv(dataset / "labels.csv", rows)
    elif case == "one image label":
        _write_csv(dataset / "labels.csv", [*rows, {**rows[0], "label": "lonely"}])
    elif case == "no label column":
        _write_csv(dataset / "labels.csv", [{"path": r["path"], "kind": r["label"]} for r in rows])
    elif case == "unreadable image":
        (dataset / rows[0]["path"]).write_bytes(b"not an image")
    elif case == "no embedding output":
        backbone = make_backbone(tmp_path / "features.onnx", embedding_name="features")
    elif case == "mismatched input":
        backbone = make_backbone(tmp_path / "mismatch.onnx", input_size=20, metadata_size=SIZE)
    elif case == "one label":
        _write_csv(dataset / "labels.csv", [r for r in rows if r["label"] == "red"])
    elif case == "missing backbone":
        backbone = tmp_path / "absent.onnx"
    return dataset, backbone


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("missing image", DatasetError, r"1 listed image\(s\) not found, first: red/nowhere.png"),
        ("one image label", DatasetError, r"label 'lonely' has only 1 image\(s\); need at least 2"),
        ("one label", DatasetError, r"has only one label \('red'\); a classifier needs at least 2"),
        ("no label column", DatasetError, r"name the label column \(columns: path, kind\)"),
        ("unreadable image", DatasetError, r"cannot read image .*\.png"),
        ("no embedding output", BackboneError, r"has no 'embedding' output \(outputs: probs, features\)"),
        ("mismatched input", BackboneError, r"input 'input' has shape \['batch', 3, 20, 20\].*16x16"),
        ("missing backbone", ValueError, r"backbone file not found"),
    ],
)
def test_bad_input_gives_one_clear_line(
    tmp_path: Path, dataset: Path, backbone_path: Path, case: str, error: type[Exception], message: str
) -> None:
    data, backbone = _bad_input(case, tmp_path, dataset, backbone_path)
    with pytest.raises(error, match=message) as info:
        train(_config(data, tmp_path / "out" / "m.onnx", backbone=backbone, heads=("prototype",)))
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.shared
def test_real_backbone_colour_head_on_a_few_real_photos(tmp_path: Path) -> None:
    backbone = shared_path("models/spectrico_color_mobilenetv3_224.onnx")
    source = load_labelled(shared_path("datasets/vehicle_colors_dev"), label_column="color")
    picked = [
        [i for i, item in enumerate(source.items) if item.label == label][:4] for label in ("red", "blue", "yellow")
    ]
    small = source.subset([i for group in picked for i in group])
    data = tmp_path / "labels.csv"
    write_labels_csv(small, data)
    output = tmp_path / "colour.onnx"
    result = train(
        _config(
            data, output, backbone=backbone, label_column="color", heads=("logreg",), augment=AugmentConfig(copies=0)
        )
    )
    assert result.labels == ("blue", "red", "yellow")
    images = [read_image(i.path) for i in small.items]
    probs, embedding = run_model(output, images)
    real = Backbone(backbone)
    assert np.allclose(embedding, real.embed(images), atol=1e-4)
    meta = dict(
        ort.InferenceSession(str(output), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    )
    assert meta["task"] == "color"
    assert meta["backbone"] == backbone.name
    assert [float(v) for v in meta["std"].split(",")] == pytest.approx([1 / 0.00784] * 3, rel=1e-8)
    assert [result.labels[i] for i in probs.argmax(axis=1)] == [i.label for i in small.items]
