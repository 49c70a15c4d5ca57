"""A layered DAG layout (Sugiyama style) for the graph view: layers, crossing reduction, coordinates, edge routes.

Steps, each a small function below:
  1. layering   longest path from the inputs: a node sits one layer below its lowest input; a source (an input with
                no producer) sits just above its first consumer, so a loss target does not hang from the top;
  2. dummies    an edge that spans several layers is split by one invisible dummy node per layer it crosses;
  3. ordering   barycentric sweeps (down then up, a few times): each node moves to the mean position of its neighbours
                in the layer it is swept from; the order with the fewest crossings wins;
  4. x placement each node is pulled to the mean x of its neighbours, then the layer is packed left to right with a
                minimum gap and shifted back so that it stays centred on what its nodes wanted.
Pure geometry on ids and sizes: knows nothing about tensors.
"""

from dataclasses import dataclass, field

GAP_X = 24       # horizontal gap between two boxes of a layer (px)
GAP_Y = 34       # vertical gap between two layers (px)
DUMMY_WIDTH = 8  # width a dummy (a bend of a long edge) takes in its layer
SWEEPS = 4       # barycentric sweeps over all layers (each a down and an up pass)
X_PASSES = 6     # coordinate-smoothing passes


@dataclass
class Layout:
    """Where everything goes: `boxes[id] = (x, y, width, height)` (top-left corner), `routes[(src, dst)]` the list of
    (x, y) bend points between the source's bottom and the target's top (empty for an edge between adjacent layers),
    `layers` the node ids of each layer in drawing order, and the canvas `width` and `height`."""

    boxes: dict = field(default_factory=dict)
    routes: dict = field(default_factory=dict)
    layers: list = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def layout(nodes, edges, margin=20):
    """Lay out a DAG. nodes: list of (id, width, height), best in a topological order (it seeds the ordering);
    edges: list of (source id, target id). Returns a Layout; raises ValueError on a cycle."""
    sizes = {node_id: (w, h) for node_id, w, h in nodes}
    order = [node_id for node_id, _, _ in nodes]
    edges = [(s, t) for s, t in dict.fromkeys(edges) if s in sizes and t in sizes and s != t]
    rank = _layering(order, edges)
    layers, up, down, chains = _with_dummies(order, edges, rank)
    widths = {v: sizes[v][0] if v in sizes else DUMMY_WIDTH for layer in layers for v in layer}
    layers = _order_layers(layers, up, down)
    xs = _place_x(layers, up, down, widths)
    result = Layout(layers=[[v for v in layer if v in sizes] for layer in layers])
    left = min((xs[v] - widths[v] / 2 for layer in layers for v in layer), default=0.0)
    y = margin
    layer_y = []
    for layer in layers:
        height = max((sizes[v][1] for v in layer if v in sizes), default=0)
        layer_y.append((y, height))
        y += height + GAP_Y
    for i, layer in enumerate(layers):
        top, height = layer_y[i]
        for v in layer:
            x = xs[v] - left + margin
            if v in sizes:
                w, h = sizes[v]
                result.boxes[v] = (x - w / 2, top, w, h)
    for edge, dummies in chains.items():
        points = []
        for d in dummies:
            top, height = layer_y[rank[d]]
            points.append((xs[d] - left + margin, top + height / 2))
        result.routes[edge] = points
    for edge in edges:
        result.routes.setdefault(edge, [])
    result.width = max((x + w for x, _, w, _ in result.boxes.values()), default=0) + margin
    result.height = y - GAP_Y + margin
    return result


def _layering(order, edges):
    """rank[id] = layer index: longest path from the sources, then each source pulled down next to its consumers."""
    preds = {v: [] for v in order}
    succs = {v: [] for v in order}
    for s, t in edges:
        preds[t].append(s)
        succs[s].append(t)
    rank = {}
    for v in _topological(order, preds, succs):
        rank[v] = 1 + max((rank[p] for p in preds[v]), default=-1)
    for v in order:
        if not preds[v] and succs[v]:
            rank[v] = min(rank[t] for t in succs[v]) - 1
    low = min(rank.values(), default=0)
    return {v: r - low for v, r in rank.items()}


def _topological(order, preds, succs):
    """The ids in a topological order (Kahn's algorithm, ties in the given order); ValueError on a cycle."""
    waiting = {v: len(preds[v]) for v in order}
    ready = [v for v in reversed(order) if not waiting[v]]
    result = []
    while ready:
        v = ready.pop()
        result.append(v)
        for t in reversed(succs[v]):
            waiting[t] -= 1
            if not waiting[t]:
                ready.append(t)
    if len(result) != len(order):
        raise ValueError(f"layout: the graph has a cycle through {[v for v in order if waiting[v]][:5]}")
    return result


def _with_dummies(order, edges, rank):
    """Split long edges. Returns (layers, up, down, chains): layers of ids (dummies are tuples), up[v] / down[v] the
    neighbours of v in the layer above / below, chains[edge] the dummies of that edge from top to bottom."""
    n_layers = 1 + max(rank.values(), default=0)
    layers = [[] for _ in range(n_layers)]
    for v in order:
        layers[rank[v]].append(v)
    up = {v: [] for v in order}
    down = {v: [] for v in order}
    chains = {}
    for s, t in edges:
        previous, dummies = s, []
        for r in range(rank[s] + 1, rank[t]):
            d = ("dummy", s, t, r)
            rank[d] = r
            layers[r].append(d)
            up[d], down[d] = [], []
            dummies.append(d)
            down[previous].append(d)
            up[d].append(previous)
            previous = d
        down[previous].append(t)
        up[t].append(previous)
        if dummies:
            chains[(s, t)] = dummies
    return layers, up, down, chains


def _crossings(upper, lower, down):
    """Number of edge crossings between two adjacent layers (O(E^2), fine for a few hundred nodes)."""
    position = {v: i for i, v in enumerate(lower)}
    ends = [(i, position[w]) for i, v in enumerate(upper) for w in down[v] if w in position]
    count = 0
    for a in range(len(ends)):
        for b in range(a + 1, len(ends)):
            (i1, j1), (i2, j2) = ends[a], ends[b]
            if (i1 - i2) * (j1 - j2) < 0:
                count += 1
    return count


def _total_crossings(layers, down):
    return sum(_crossings(layers[i], layers[i + 1], down) for i in range(len(layers) - 1))


def _order_layers(layers, up, down):
    """Barycentric sweeps; returns the best ordering seen (fewest crossings)."""
    layers = [list(layer) for layer in layers]
    best, best_count = [list(layer) for layer in layers], _total_crossings(layers, down)
    for _ in range(SWEEPS):
        if best_count == 0:
            break
        for i in range(1, len(layers)):
            _sort_by_barycentre(layers[i], layers[i - 1], up)
        for i in range(len(layers) - 2, -1, -1):
            _sort_by_barycentre(layers[i], layers[i + 1], down)
        count = _total_crossings(layers, down)
        if count < best_count:
            best, best_count = [list(layer) for layer in layers], count
    return best


def _sort_by_barycentre(layer, fixed, neighbours):
    position = {v: i for i, v in enumerate(fixed)}
    keys = {}
    for i, v in enumerate(layer):
        near = [position[w] for w in neighbours[v] if w in position]
        keys[v] = sum(near) / len(near) if near else i  # a node without neighbours there keeps its place
    layer.sort(key=lambda v: keys[v])  # stable: ties keep their current order


def _place_x(layers, up, down, widths):
    """x centre of every node: packed layers, then passes that pull each node towards its neighbours."""
    xs = {}
    for layer in layers:
        _pack(layer, {v: 0.0 for v in layer}, widths, xs)
    for k in range(X_PASSES):
        sweep = range(1, len(layers)) if k % 2 == 0 else range(len(layers) - 2, -1, -1)
        neighbours = up if k % 2 == 0 else down
        for i in sweep:
            wanted = {}
            for v in layers[i]:
                near = [xs[w] for w in neighbours[v]]
                wanted[v] = sum(near) / len(near) if near else xs[v]
            _pack(layers[i], wanted, widths, xs)
    return xs


def _pack(layer, wanted, widths, xs):
    """Place the layer's nodes in order, each at its wanted x or just right of its left neighbour, then shift the
    whole layer by the mean shortfall so that it stays centred on what its nodes wanted."""
    placed = []
    edge = None
    for v in layer:
        x = wanted[v]
        if edge is not None:
            x = max(x, edge + widths[v] / 2)
        placed.append(x)
        edge = x + widths[v] / 2 + GAP_X
    if not placed:
        return
    shift = sum(wanted[v] - x for v, x in zip(layer, placed)) / len(placed)
    for v, x in zip(layer, placed):
        xs[v] = x + shift
