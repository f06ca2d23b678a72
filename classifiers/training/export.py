"""One ONNX graph: the backbone up to its ``embedding`` output, then the head's layers, with the service's metadata.

The backbone's own classifier branch (its old ``probs``) is cut away with ``onnx.utils.Extractor``; the head is
appended as plain MatMul/Add/Relu/Softmax nodes (and an L2 normalisation for cosine heads), so any ONNX runtime can
serve it. Outputs: ``probs`` ``[batch, classes]`` and ``embedding`` ``[batch, dim]``, batch dimension symbolic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
from onnx import TensorProto, helper, numpy_helper

from classifiers.training.backbone import EMBEDDING_OUTPUT
from classifiers.training.errors import BackboneError
from classifiers.training.heads import Affine, HeadOp, L2Normalize, Relu, Softmax

PROBS_OUTPUT = "probs"
_PREFIX = "vw_head/"


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


def _backbone_only(backbone_path: Path) -> onnx.ModelProto:
    try:
        model = onnx.load(str(backbone_path))
    except Exception as exc:  # onnx raises protobuf's DecodeError and OSError for bad files
        raise BackboneError(f"cannot read backbone {backbone_path.name}: {type(exc).__name__}") from exc
    outputs = [o.name for o in model.graph.output]
    if EMBEDDING_OUTPUT not in outputs:
        raise BackboneError(
            f"backbone {backbone_path.name} has no {EMBEDDING_OUTPUT!r} output (outputs: {', '.join(outputs)})"
        )
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise BackboneError(f"backbone {backbone_path.name} must have one image input, has {len(inputs)}")
    # Extraction keeps only what computes the embedding: the backbone's own classifier (its old probs) goes.
    sub = onnx.utils.Extractor(model).extract_model(inputs, [EMBEDDING_OUTPUT])
    taken = {name for node in sub.graph.node for name in node.output} | {i.name for i in sub.graph.input}
    if PROBS_OUTPUT in taken or any(name.startswith(_PREFIX) for name in taken):
        raise BackboneError(f"backbone {backbone_path.name}: tensor names clash with the head's ({PROBS_OUTPUT!r})")
    return sub


def _batch_dim(model: onnx.ModelProto) -> str:
    """Makes the input's first dimension symbolic (if it was fixed) and returns its name."""
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    if not dim.dim_param:
        dim.Clear()
        dim.dim_param = "batch"
    for output in model.graph.output:
        out_dim = output.type.tensor_type.shape.dim
        if len(out_dim):
            out_dim[0].Clear()
            out_dim[0].dim_param = dim.dim_param
    return str(dim.dim_param)


def _head_nodes(ops: Sequence[HeadOp], opset: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str, int]:
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    current = EMBEDDING_OUTPUT
    n_out = 0
    for i, op in enumerate(ops):
        name = f"{_PREFIX}{i}_{type(op).__name__.lower()}"
        last = i == len(ops) - 1
        out = PROBS_OUTPUT if last else f"{name}/out"
        if isinstance(op, L2Normalize):
            axes = f"{name}/axes"
            eps = f"{name}/eps"
            inits += [
                numpy_helper.from_array(np.asarray([1], np.int64), axes),
                numpy_helper.from_array(np.asarray(op.eps, np.float32), eps),
            ]
            # ReduceSum takes its axes as an input from opset 13 on, as an attribute before.
            reduce = (
                helper.make_node("ReduceSum", [f"{name}/sq", axes], [f"{name}/ss"], keepdims=1, name=f"{name}/sum")
                if opset >= 13
                else helper.make_node(
                    "ReduceSum", [f"{name}/sq"], [f"{name}/ss"], axes=[1], keepdims=1, name=f"{name}/sum"
                )
            )
            nodes += [
                helper.make_node("Mul", [current, current], [f"{name}/sq"], name=f"{name}/square"),
                reduce,
                helper.make_node("Sqrt", [f"{name}/ss"], [f"{name}/norm"], name=f"{name}/sqrt"),
                helper.make_node("Max", [f"{name}/norm", eps], [f"{name}/safe"], name=f"{name}/max"),
                helper.make_node("Div", [current, f"{name}/safe"], [out], name=f"{name}/div"),
            ]
        elif isinstance(op, Affine):
            inits += [
                numpy_helper.from_array(np.ascontiguousarray(op.weight, np.float32), f"{name}/W"),
                numpy_helper.from_array(np.ascontiguousarray(op.bias, np.float32), f"{name}/B"),
            ]
            nodes += [
                helper.make_node("MatMul", [current, f"{name}/W"], [f"{name}/mm"], name=f"{name}/matmul"),
                helper.make_node("Add", [f"{name}/mm", f"{name}/B"], [out], name=f"{name}/add"),
            ]
            n_out = int(op.weight.shape[1])
        elif isinstance(op, Relu):
            nodes.append(helper.make_node("Relu", [current], [out], name=name))
        elif isinstance(op, Softmax):
            nodes.append(helper.make_node("Softmax", [current], [out], axis=1, name=name))
        current = out
    if current != PROBS_OUTPUT or not isinstance(ops[-1], Softmax):
        raise ValueError("a head must end with Softmax")
    return nodes, inits, current, n_out


def build_classifier_graph(backbone_path: Path, ops: Sequence[HeadOp], metadata: Mapping[str, str]) -> onnx.ModelProto:
    """Backbone + head as one model, with ``metadata`` as its ``metadata_props``.

    Args:
        backbone_path: a model with one image input and an ``embedding`` output ``[batch, dim]`` (a classifier
            exported here works too: its old head is cut away).
        ops: the head's layers, ending with ``Softmax``.
        metadata: string key/values for the service (labels, preprocessing, task) and provenance.

    Raises:
        BackboneError: the backbone cannot be read, has no ``embedding`` output, or clashes with the head's names.
    """
    model = _backbone_only(backbone_path)
    batch = _batch_dim(model)
    nodes, inits, probs, n_classes = _head_nodes(ops, _opset(model))
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(inits)
    model.graph.output.insert(0, helper.make_tensor_value_info(probs, TensorProto.FLOAT, [batch, n_classes]))
    model.graph.name = "vehiclewatch_classifier"
    model.producer_name = "vehiclewatch"
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model
