"""The computation-graph view: nodes, shapes, parameters and FLOPs against hand counts and torch's FLOP counter;
SVG/HTML/text/JSON renderings; the layered layout."""

import json
import os
import time
import xml.etree.ElementTree as ET
from math import prod

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.nn.functional as F
from glassbox.autograd import no_grad
from glassbox.insight.flops import estimate_flops
from glassbox.insight.graph import GraphView, graph_of_model, graph_view
from glassbox.insight.svg_layout import layout
from glassbox.models.lenet import lenet5
from glassbox.models.resnet import resnet18

SVG = "{http://www.w3.org/2000/svg}"


def _tiny():
    """(x @ W + b).relu().sum() with x (4, 3) requiring grad, W (3, 5) and b (5,) parameters."""
    rng = np.random.default_rng(0)
    x = gb.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    W = nn.Parameter(rng.standard_normal((3, 5)).astype(np.float32))
    b = nn.Parameter(rng.standard_normal(5).astype(np.float32))
    return x, W, b, (x @ W + b).relu().sum()


def _mlp():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _op(view, op):
    matches = [n for n in view.ops if n.op == op]
    assert len(matches) == 1, [n.op for n in view.ops]
    return matches[0]


# ----- nodes, shapes, parameters -----------------------------------------------------------------------------------
def test_hand_built_graph_nodes_shapes_and_params():
    x, W, b, loss = _tiny()
    view = graph_view(loss, names={"x": x, "W": W, "b": b}, name="tiny")
    assert [n.op for n in view.ops] == ["MatMul", "Add", "Relu", "Sum"]
    assert [tuple(n.shape) for n in view.ops] == [(4, 5), (4, 5), (4, 5), ()]
    assert all(n.dtype == "float32" for n in view.ops)
    by_name = {n.name: n for n in view.nodes}
    assert by_name["x"].kind == "input" and by_name["W"].kind == "parameter" and by_name["b"].kind == "parameter"
    matmul, add, relu, total = view.ops
    # parameters feeding each op directly: W (15) into the matmul, b (5) into the add, none afterwards
    assert (matmul.params, add.params, relu.params, total.params) == (15, 5, 0, 0)
    assert view.total_params == 15 + 5
    # inputs in argument order, by name
    assert [view.by_id[i].name for i in matmul.inputs] == ["x", "W"]
    assert [view.by_id[i].name for i in add.inputs] == [matmul.name, "b"]
    assert len(view.edges) == 2 + 2 + 1 + 1
    # FLOPs by hand: matmul 2*m*n*k = 2*4*5*3; add and relu: one per output element; sum: one per input element
    assert [n.flops for n in view.ops] == [2 * 4 * 5 * 3, 20, 20, 20]
    assert view.total_flops == 120 + 60


def test_unnamed_leaves_are_numbered():
    x, W, b, loss = _tiny()
    names = {n.name for n in graph_view(loss).leaves}
    assert names == {"input 0", "parameter 0", "parameter 1"}


def test_output_shapes_match_the_traced_outputs():
    # graph_view reads output shapes back from the consumers' input shapes; graph_of_model records the real outputs
    model = lenet5()
    x = gb.randn(2, 1, 12, 12)
    y = gb.tensor(np.array([3, 7]))
    traced = graph_of_model(model, x, loss_fn=F.cross_entropy, targets=y)
    walked = graph_view(F.cross_entropy(model(x), y), model)
    assert [n.op for n in walked.ops] == [n.op for n in traced.ops]
    assert [n.shape for n in walked.ops] == [n.shape for n in traced.ops]
    assert [n.dtype for n in walked.ops] == [n.dtype for n in traced.ops]
    assert traced.ops[0].shape == [2, 6, 12, 12] and traced.ops[-1].shape == []


@pytest.mark.parametrize("make, shape", [(_mlp, (5, 6)), (lenet5, (3, 1, 28, 28))])
def test_loss_graph_counts_every_parameter(make, shape):
    model = make()
    x = gb.randn(*shape)
    y = gb.tensor(np.arange(shape[0]) % 3)
    expected = sum(p.numel() for p in model.parameters())
    view = graph_view(F.cross_entropy(model(x), y), model)
    assert view.total_params == expected
    assert sum(n.params for n in view.ops) == expected  # no parameter is shared, so per-op counts add up too
    names = {n.name for n in view.nodes if n.kind == "parameter"}
    assert names == {name for name, _ in model.named_parameters()}
    for node in view.ops:  # each op's params are the sizes of the parameter leaves among its inputs
        leaves = [view.by_id[i] for i in node.inputs]
        assert node.params == sum(leaf.params for leaf in leaves if leaf.kind == "parameter")


def test_graph_of_model_names_modules_inputs_and_target():
    model = lenet5()
    view = graph_of_model(model, gb.randn(2, 1, 28, 28), loss_fn=F.cross_entropy, targets=np.array([1, 2]))
    modules = [(n.op, n.module) for n in view.ops]
    # the in-place ReLUs of LeNet5 still get their own module (the graph node is captured when the op runs)
    assert modules[:3] == [("Conv2d", "features.0"), ("Relu", "features.1"), ("MaxPool2d", "features.2")]
    assert modules[-1] == ("CrossEntropy", "loss")
    leaves = {n.name: n for n in view.leaves}
    assert leaves["input 0"].shape == [2, 1, 28, 28] and leaves["target"].dtype == "int64"
    conv = view.ops[0]
    assert [view.by_id[i].name for i in conv.inputs] == ["input 0", "features.0.weight", "features.0.bias"]


def test_shared_parameter_counts_once_in_the_total():
    W = nn.Parameter(np.ones((3, 3), dtype=np.float32))
    x = gb.ones(2, 3)
    view = graph_view(((x @ W) @ W).sum())
    assert view.total_params == 9
    assert [n.params for n in view.ops] == [9, 9, 0]


def test_a_fan_out_node_appears_once():
    a = gb.randn(3, requires_grad=True)
    h = a.exp()
    view = graph_view((h * h + h).sum())
    assert [n.op for n in view.ops].count("Exp") == 1
    exp_id = _op(view, "Exp").id
    assert sum(1 for s, _, _ in view.edges if s == exp_id) == 3


def test_tuple_of_outputs():
    a = gb.randn(3, requires_grad=True)
    view = graph_view((a.exp(), a.sin()))
    assert sorted(n.op for n in view.ops) == ["Exp", "Sin"]


def test_nested_outputs_are_walked_together():
    lstm = nn.LSTM(4, 6)
    view = graph_view(lstm(gb.randn(5, 2, 4)), lstm)   # (output, (h_n, c_n))
    assert [n.op for n in view.ops].count("LSTMSequence") == 1
    assert view.total_params == sum(p.numel() for p in lstm.parameters())
    with pytest.raises(ValueError, match="empty"):
        graph_view(())


# ----- FLOPs ---------------------------------------------------------------------------------------------------------
def test_linear_flops_by_hand():
    layer = nn.Linear(7, 5)
    view = graph_view(layer(gb.randn(3, 7)), layer)
    node = _op(view, "Linear")
    assert node.flops == 2 * 3 * 5 * 7       # 2 * m * n * k
    assert node.params == 7 * 5 + 5
    assert node.module == ""                  # the root module owns weight and bias


def test_conv2d_flops_by_hand():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    view = graph_view(conv(gb.randn(2, 4, 9, 9)), conv)
    node = _op(view, "Conv2d")
    h_out = (9 + 2 * 1 - 3) // 2 + 1
    assert node.shape == [2, 6, h_out, h_out]
    assert node.flops == 2 * 2 * 6 * h_out * h_out * (4 // 2) * 3 * 3   # 2*N*Cout*Hout*Wout*Cin/groups*kh*kw
    assert node.params == 6 * 2 * 3 * 3 + 6


def test_pool_reduction_and_movement_rules():
    x = gb.randn(2, 3, 8, 8, requires_grad=True)
    pooled = F.max_pool2d(x, 2)
    view = graph_view(pooled.reshape(2, -1).mean())
    assert _op(view, "MaxPool2d").flops == 2 * 3 * 4 * 4 * (2 * 2)   # every window reads kh*kw values
    assert _op(view, "Reshape").flops == 0
    assert _op(view, "Mean").flops == 2 * 3 * 4 * 4                   # reductions: input size
    assert estimate_flops("SomeNewOp", [(4, 5)], (4, 5)) == 20        # unknown ops count as elementwise


def test_lstm_flops_count_the_gate_matrices():
    lstm = nn.LSTM(4, 6)
    out, _ = lstm(gb.randn(5, 2, 4))
    node = _op(graph_view(out.sum(), lstm), "LSTMSequence")
    assert node.flops == 2 * 5 * 2 * (4 * 6 * 4 + 4 * 6 * 6)   # 2 * T * B * (|W_ih| + |W_hh|)


def test_flops_match_torch_flop_counter(torch):
    from torch.utils.flop_counter import FlopCounterMode

    cases = [(nn.Linear(7, 5), torch.nn.Linear(7, 5), (3, 7), "Linear"),
             (nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), torch.nn.Conv2d(4, 6, 3, 2, 1, groups=2),
              (2, 4, 9, 9), "Conv2d"),
             (nn.Conv2d(3, 8, (3, 5), dilation=2), torch.nn.Conv2d(3, 8, (3, 5), dilation=2), (1, 3, 16, 16),
              "Conv2d")]
    for ours, theirs, shape, op in cases:
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            theirs(torch.from_numpy(x))
        assert _op(graph_view(ours(gb.tensor(x)), ours), op).flops == counter.get_total_flops()


# ----- errors --------------------------------------------------------------------------------------------------------
def test_tensor_without_graph_is_a_clear_error():
    with pytest.raises(ValueError, match="requires_grad"):
        graph_view(gb.randn(3).sum())
    w = gb.randn(3, requires_grad=True)
    with no_grad():
        y = (w * 2).sum()
    with pytest.raises(ValueError, match="no_grad"):
        graph_view(y)
    with pytest.raises(ValueError, match="leaf"):
        graph_view(w)
    with pytest.raises(TypeError, match="Tensor"):
        graph_view(np.ones(3))


def test_freed_graph_is_a_clear_error():
    _, _, _, loss = _tiny()
    loss.backward()
    with pytest.raises(ValueError, match="retain_graph"):
        graph_view(loss)
    _, _, _, loss = _tiny()
    loss.backward(retain_graph=True)
    assert len(graph_view(loss).ops) == 4


# ----- renderings ----------------------------------------------------------------------------------------------------
def _node_groups(root):
    return [g for g in root.iter(SVG + "g") if "node" in g.get("class", "").split()]


def test_svg_parses_and_has_one_group_per_node():
    view = graph_of_model(lenet5(), gb.randn(1, 1, 28, 28), loss_fn=F.cross_entropy, targets=np.array([4]))
    root = ET.fromstring(view.to_svg())
    assert root.tag == SVG + "svg"
    groups = _node_groups(root)
    assert sorted(g.get("id") for g in groups) == sorted(n.id for n in view.nodes)
    # every op group shows its op name, and every edge between drawn boxes is one path with an arrow
    for g in groups:
        node = view.by_id[g.get("id")]
        text = " ".join(t.text or "" for t in g.iter(SVG + "text"))
        if node.kind == "parameter":  # a tag beside its op's box: the name after the op's module, and the shape
            assert node.name.endswith(text.split()[0]) and str(tuple(node.shape)) in text
        else:
            assert (node.op if node.kind == "op" else node.name) in text
    paths = [p for p in root.iter(SVG + "path") if p.get("class") == "edge"]
    drawn = [e for e in view.edges if view.by_id[e[0]].kind != "parameter"]
    assert len(paths) == len(drawn)
    assert all(p.get("marker-end") == "url(#arrow)" for p in paths)


def test_svg_boxes_do_not_overlap():
    model = resnet18(num_classes=10, small_input=True)
    view = graph_of_model(model, gb.randn(1, 3, 16, 16))
    root = ET.fromstring(view.to_svg())
    rects = []
    for g in _node_groups(root):
        r = g.find(SVG + "rect")
        rects.append(tuple(float(r.get(k)) for k in ("x", "y", "width", "height")))
    for i, (x1, y1, w1, h1) in enumerate(rects):
        for x2, y2, w2, h2 in rects[i + 1:]:
            assert x1 + w1 <= x2 + 0.5 or x2 + w2 <= x1 + 0.5 or y1 + h1 <= y2 + 0.5 or y2 + h2 <= y1 + 0.5


def test_html_is_self_contained():
    model = _mlp()
    view = graph_of_model(model, gb.randn(2, 6))
    html = view.to_html()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script>" in html
    assert "http://" not in html and "https://" not in html
    assert html.count('class="node ') == len(view.nodes)
    assert "<link" not in html and "src=" not in html


def test_text_lists_ops_in_order_with_totals():
    model = _mlp()
    view = graph_of_model(model, gb.randn(2, 6), loss_fn=F.cross_entropy, targets=np.array([0, 2]))
    text = view.to_text()
    table = text.split("leaves:")[0]
    rows = [line.split() for line in table.splitlines() if line.strip()[:1].isdigit()]
    assert [(int(r[0]), r[1]) for r in rows] == [(n.index, n.op) for n in view.ops]
    assert [n.op for n in view.ops] == ["Linear", "Relu", "Linear", "CrossEntropy"]
    for row, n in zip(rows, view.ops):
        line = " ".join(row)
        assert str(tuple(n.shape)) in line and line.endswith(", ".join(view.by_id[i].name for i in n.inputs))
    total = sum(p.numel() for p in model.parameters())
    assert f"{total:,} parameters" in text and f"{view.total_flops:,} FLOPs" in text


def test_dict_round_trips_through_json(tmp_path):
    x, W, b, loss = _tiny()
    view = graph_view(loss, names={"x": x, "W": W, "b": b})
    data = view.to_dict()
    again = json.loads(json.dumps(data))
    assert again == data
    assert GraphView.from_dict(again).to_dict() == data
    assert data["totals"] == {"ops": 4, "leaves": 3, "parameters": 20, "parameter_tensors": 2, "flops": 180}
    paths = view.save(tmp_path / "run")
    assert sorted(os.path.basename(p) for p in paths) == ["graph.html", "graph.json", "graph.svg", "graph.txt"]
    assert json.loads((tmp_path / "run" / "graph.json").read_text()) == data
    ET.parse(tmp_path / "run" / "graph.svg")


def test_resnet18_graph_renders_quickly():
    model = resnet18(num_classes=10)
    start = time.perf_counter()
    view = graph_of_model(model, gb.randn(2, 3, 32, 32), loss_fn=nn.CrossEntropyLoss(), targets=np.array([3, 1]))
    svg, html = view.to_svg(), view.to_html()
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"resnet18 graph took {elapsed:.1f} s"  # generous: the machine is shared
    assert view.total_params == sum(p.numel() for p in model.parameters())
    assert len(_node_groups(ET.fromstring(svg))) == len(view.nodes)
    assert len(view.ops) > 60 and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


# ----- layout --------------------------------------------------------------------------------------------------------
def test_layout_layers_follow_the_edges_and_dummies_route_long_edges():
    nodes = [(name, 40, 20) for name in "abcde"]
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("e", "d")]
    result = layout(nodes, edges)
    y = {v: result.boxes[v][1] for v in "abcde"}
    assert y["a"] < y["b"] < y["c"] < y["d"]
    assert y["e"] == y["c"]                    # a source sits just above its consumer, not at the top
    assert len(result.routes[("a", "d")]) == 2  # one bend per layer crossed
    assert result.routes[("a", "b")] == []


def test_layout_barycentre_removes_a_removable_crossing():
    # a1 -> b2 and a2 -> b1 cross in input order; ordering by barycentre uncrosses them
    nodes = [("a1", 30, 20), ("a2", 30, 20), ("b1", 30, 20), ("b2", 30, 20)]
    result = layout(nodes, [("a1", "b2"), ("a2", "b1")])
    x = {v: result.boxes[v][0] for v, _, _ in nodes}
    assert (x["a1"] < x["a2"]) == (x["b2"] < x["b1"])
    assert prod(result.boxes["b1"][2:]) == 30 * 20
