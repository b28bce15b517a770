"""The layer graph: fx trace with module-path ids, meta shapes, fold, layout, fallback."""

from types import SimpleNamespace

import networkx as nx
import pytest
import torch
import torchvision
from torch import nn

from designer.inspect.fold import fold
from designer.inspect.graph import format_shape, layout, trace_graph
from designer.zoo import lite0

REQUIRED = ("label", "op_type", "kind", "path", "module", "out_shape", "params", "trainable",
            "frozen", "lr_factor", "flops", "depth", "order")


@pytest.fixture(scope="module")
def densenet_graph():
    model = torchvision.models.densenet201()
    return model, trace_graph(model, (3, 224, 224))


@pytest.fixture(scope="module")
def resnet18():
    return torchvision.models.resnet18()


def test_densenet201_traces_to_about_713_nodes_with_shapes(densenet_graph):
    model, graph = densenet_graph
    assert 700 <= graph.number_of_nodes() <= 730
    assert not graph.graph["fallback"] and graph.graph["shape_error"] is None
    for _, data in graph.nodes(data=True):
        assert all(key in data for key in REQUIRED)
    assert graph.nodes["output"]["out_shape"] == (1, 1000)
    assert graph.nodes["features.conv0"]["out_shape"] == (1, 64, 112, 112)
    # every parameter is drawn exactly once
    assert sum(d["params"] for _, d in graph.nodes(data=True)) == sum(p.numel() for p in model.parameters())
    assert 4.2e9 < graph.graph["flops_total"] < 4.4e9  # torchvision lists 4.29 GFLOPS (multiply-adds)


def test_node_ids_are_module_paths_and_repeated_calls_get_suffixes(resnet18):
    graph = trace_graph(resnet18, (3, 224, 224))
    assert {"input", "conv1", "layer1.0.conv1", "layer1.0.add", "layer1.0.relu_1", "fc", "output"} \
        <= set(graph)
    add = graph.nodes["layer1.0.add"]
    assert add["kind"] == "function" and add["module"] == "layer1.0" and add["op_type"] == "add"
    relu_again = graph.nodes["layer1.0.relu_1"]
    assert relu_again["path"] == "layer1.0.relu" and relu_again["shared"]
    conv = graph.nodes["layer1.0.conv1"]
    assert conv["op_type"] == "Conv2d" and conv["params"] == 64 * 64 * 9 and conv["frozen"] is False
    assert conv["flops"] == 64 * 64 * 9 * 56 * 56 and conv["depth"] == 3
    assert graph.nodes["layer1.0.relu"]["frozen"] is None  # no parameters
    assert set(graph.predecessors("layer1.0.add")) == {"layer1.0.bn2", "maxpool"}
    assert graph.nodes["layer1.0.add"]["inputs"] == ["layer1.0.bn2", "maxpool"]


def test_tracing_is_read_only_and_restores_train_flags(resnet18):
    resnet18.train()
    resnet18.bn1.eval()  # a frozen BN kept in eval by the fine-tune policy
    before = {k: v.clone() for k, v in resnet18.state_dict().items()}
    trace_graph(resnet18, (3, 64, 64))
    assert resnet18.training and not resnet18.bn1.training and resnet18.layer1.training
    assert all(torch.equal(before[k], v) for k, v in resnet18.state_dict().items())
    resnet18.eval()


def test_policy_sets_frozen_and_lr_factor(resnet18):
    names = [n for n, _ in resnet18.named_parameters()]
    policy = SimpleNamespace(frozen={n: not n.startswith("fc.") for n in names},
                             lr_factor={n: 10.0 if n.startswith("fc.") else 0.1 for n in names})
    graph = trace_graph(resnet18, (3, 224, 224), policy)
    assert graph.nodes["conv1"]["frozen"] is True and graph.nodes["conv1"]["lr_factor"] == 0.1
    assert graph.nodes["fc"]["frozen"] is False and graph.nodes["fc"]["lr_factor"] == 10.0
    assert graph.nodes["conv1"]["trainable"] == 0 and graph.nodes["fc"]["trainable"] == 513000


def test_lite0_static_padding_convs_stay_leaves():
    model = lite0.build_architecture()
    graph = trace_graph(model, (3, 224, 224))
    assert 140 <= graph.number_of_nodes() <= 155  # 147: convs are not dissolved into F.conv2d
    assert graph.nodes["_conv_stem"]["op_type"] == "Conv2dStaticSamePadding"
    assert graph.nodes["output"]["out_shape"] == (1, 1000)
    assert sum(d["params"] for _, d in graph.nodes(data=True)) == sum(p.numel() for p in model.parameters())


def test_shape_error_names_the_failing_node_and_keeps_the_graph():
    graph = trace_graph(torchvision.models.alexnet(), (3, 32, 32))
    assert graph.graph["shape_error"]["node"] == "features.12"
    assert "too small" in graph.graph["shape_error"]["message"]
    assert graph.nodes["features.11"]["out_shape"] == (1, 256, 1, 1)
    assert graph.nodes["classifier.1"]["out_shape"] is None  # after the failure


class DataDependent(nn.Module):
    """Branches on tensor values: fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = self.conv(x)
        if x.sum() > 0:
            x = x * 2
        return self.fc(x.mean((2, 3)))


def test_fallback_chains_leaf_modules_with_shapes():
    graph = trace_graph(DataDependent(), (3, 16, 16))
    assert graph.graph["fallback"] and "control flow" in graph.graph["reason"]
    assert "TraceError" not in graph.graph["reason"]  # the analyzer shows it to the user (issue 22)
    assert list(nx.topological_sort(graph)) == ["input", "conv", "fc", "output"]
    assert graph.nodes["conv"]["out_shape"] == (1, 4, 14, 14)
    assert graph.nodes["fc"]["params"] == 10 and graph.nodes["output"]["out_shape"] == (1, 2)
    assert set(layout(graph)) == set(graph) and fold(graph, 1).number_of_nodes() == 4


def test_fold_collapses_blocks_and_sums(densenet_graph):
    _, graph = densenet_graph
    folded = fold(graph, 2)
    assert folded.number_of_nodes() < graph.number_of_nodes() / 10
    block = folded.nodes["features.denseblock1"]
    assert block["folded"] and block["children"] > 20 and block["op_type"] == "_DenseBlock"
    assert block["out_shape"] == (1, 256, 56, 56)  # its last member: the final concatenation
    params = [sum(d["params"] for _, d in g.nodes(data=True)) for g in (folded, graph)]
    assert params[0] == params[1]
    assert sum(d["flops"] for _, d in folded.nodes(data=True)) == graph.graph["flops_total"]
    assert folded.has_edge("features.transition1", "features.denseblock2")
    top = fold(graph, 1)  # features, classifier and the root's own functions
    assert list(nx.topological_sort(top)) == ["input", "features", "relu", "adaptive_avg_pool2d",
                                             "flatten", "classifier", "output"]
    assert folded.graph["folded"] and not graph.graph["folded"]


def test_layout_places_every_node_in_topological_rows(densenet_graph):
    _, graph = densenet_graph
    pos = layout(graph)
    assert set(pos) == set(graph)
    assert all(pos[u][1] < pos[v][1] for u, v in graph.edges)
    assert pos["input"][1] == 0 and pos["output"][1] == max(y for _, y in pos.values())
    for depth in (1, 2, 3):
        folded = fold(graph, depth)
        assert set(layout(folded)) == set(folded)


def test_layout_survives_a_cycle_made_by_folding():
    graph = nx.DiGraph()
    for i, n in enumerate(["input", "a", "b", "output"]):
        graph.add_node(n, order=i)
    graph.add_edges_from([("input", "a"), ("a", "b"), ("b", "a"), ("b", "output")])
    pos = layout(graph)
    assert set(pos) == set(graph) and pos["a"][1] < pos["b"][1]


def test_format_shape():
    assert format_shape((1, 64, 56, 56)) == "64x56x56"
    assert format_shape((1, 1000)) == "1000"
    assert format_shape(None) == "-"
