"""Draw a GraphView as a self-contained SVG (boxes, parameter tags, curved arrows) and as an offline HTML page.

Ops and data inputs are laid out by svg_layout (layers top to bottom, in the direction data flows); each parameter
is a small tag beside the first op that reads it. Every node is one <g class="node ..."> with a <title> (the
browser's tooltip), so the SVG alone is already browsable; the HTML page adds a styled tooltip, wheel zoom and drag
pan in a few lines of inline JavaScript. No external fonts, stylesheets or scripts anywhere.
"""

from xml.sax.saxutils import escape, quoteattr

from . import flops as _flops
from .svg_layout import layout

CHAR_W = 6.8    # width of one character of the 11 px monospace font (px), to size boxes without measuring text
LINE_H = 14     # line height in a box
PAD = 8         # padding inside a box
TAG_CHAR_W = 5.6
TAG_H = 14      # height of a parameter tag
TAG_GAP = 8     # gap between an op box and its tags
HEADER_H = 44   # height of the title block above the drawing

FILL = {"matmul": "#d4e4fc", "conv": "#c9dbff", "recurrent": "#d9d2fb", "reduction": "#fde3c8", "pool": "#d5f0ec",
        "softmax": "#fdd5c8", "norm": "#ead9f7", "movement": "#ececec", "elementwise": "#d9f2d9",
        "input": "#ffffff", "parameter": "#fff3bf"}

STYLE = """
.node text { font-family: monospace; font-size: 11px; fill: #1b1b1b; }
.node .op { font-weight: bold; }
.node .dim { fill: #555; }
.param text { font-size: 9px; }
.node rect { stroke: #5b5b5b; stroke-width: 1; }
.node:hover rect { stroke: #d62828; stroke-width: 2; }
.edge { fill: none; stroke: #6b7280; stroke-width: 1.2; }
.tagline { stroke: #b59b2a; stroke-width: 1; }
.header { font-family: sans-serif; font-size: 15px; fill: #111; }
.subheader { font-family: sans-serif; font-size: 12px; fill: #444; }
"""


def _lines(node):
    """The text lines of a box: name and module, shape and dtype, params and FLOPs."""
    if node.kind != "op":
        return [node.name, f"{_shape(node.shape)} {node.dtype or ''}".rstrip()]
    first = node.op if node.module is None else f"{node.op}  {node.module or '<root>'}"
    third = _flops.category(node.op) if not node.flops and not node.params else \
        " · ".join(([f"{node.params:,} params"] if node.params else []) + [_short_flops(node.flops)])
    return [first, f"{_shape(node.shape)} {node.dtype or ''}".rstrip(), third]


def _tag_text(node, module=None):
    """'weight (6, 1, 5, 5)' beside the op of module 'features.0' (whose box names it), else the full name."""
    name = node.name
    if module and name.startswith(module + "."):
        name = name[len(module) + 1:]
    return f"{name} {_shape(node.shape)}"


def render_svg(view, standalone=True):
    """The SVG text of `view`. standalone=False leaves out the XML namespace (for inline use in HTML)."""
    tags = _parameter_tags(view)
    boxes, sizes, sides = {}, [], {}
    for node in view.nodes:
        if node.kind == "parameter":
            continue
        lines = _lines(node)
        w = max(len(s) for s in lines) * CHAR_W + 2 * PAD
        h = len(lines) * LINE_H + PAD
        boxes[node.id] = (w, h)
        tag_w = max((len(_tag_text(t, node.module)) * TAG_CHAR_W + 8 for t in tags.get(node.id, [])), default=0)
        tag_h = len(tags.get(node.id, [])) * (TAG_H + 3)
        side = TAG_GAP + tag_w if tag_w else 0
        sides[node.id] = side
        # the tags' room is reserved on both sides, so that the box itself sits centred where the layout puts it
        sizes.append((node.id, w + 2 * side, max(h, tag_h)))
    edges = [(s, t) for s, t, _ in view.edges if s in boxes]
    geometry = layout(sizes, edges)
    width, height = max(geometry.width, 420), geometry.height + HEADER_H
    out = []
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out.append(f'<svg{namespace} width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
               f'font-family="monospace">')
    out.append(f"<style>{STYLE}</style>")
    out.append('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
               'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs>')
    t = view.totals()
    out.append(f'<text class="header" x="20" y="20">{escape(view.name)}</text>')
    out.append(f'<text class="subheader" x="20" y="36">{t["ops"]} ops · {t["parameters"]:,} parameters · '
               f'{_short_flops(t["flops"])} per forward pass</text>')
    out.append(f'<g transform="translate(0,{HEADER_H})">')
    out.append(_edges_svg(view, geometry, boxes, sides))
    for node in view.nodes:
        if node.id in geometry.boxes:
            x, y, _, _ = geometry.boxes[node.id]
            x += sides[node.id]
            w, h = boxes[node.id]
            out.append(_box_svg(node, view, x, y, w, h))
            for j, tag in enumerate(tags.get(node.id, [])):
                out.append(_tag_svg(tag, node.module, x + w + TAG_GAP, y + j * (TAG_H + 3), y + h / 2, x + w))
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _parameter_tags(view):
    """op id -> the parameter nodes drawn beside it (each parameter beside the first op that reads it)."""
    tags, placed = {}, set()
    for node in view.ops:
        for source in node.inputs:
            leaf = view.by_id[source]
            if leaf.kind == "parameter" and source not in placed:
                placed.add(source)
                tags.setdefault(node.id, []).append(leaf)
    return tags


def _edges_svg(view, geometry, boxes, sides):
    """Curved arrows from the bottom of each source box to the top of its target, spread along the target's top."""
    incoming = {}
    for s, t, _ in view.edges:
        if s in boxes and t in boxes:
            incoming.setdefault(t, []).append(s)
    paths = ['<g class="edges">']
    for target, sources in incoming.items():
        tx, ty, _, _ = geometry.boxes[target]
        tx += sides[target]
        tw = boxes[target][0]
        starts = {}
        for source in sources:
            sx, sy, _, _ = geometry.boxes[source]
            sw, sh = boxes[source]
            bends = list(geometry.routes.get((source, target), []))
            starts[source] = ((sx + sides[source] + sw / 2, sy + sh), bends)
        # arrows arrive along the target's top in the left-to-right order they come from, so they do not cross
        arrival = sorted(sources, key=lambda v: (starts[v][1] or [starts[v][0]])[-1][0])
        for k, source in enumerate(arrival):
            start, bends = starts[source]
            points = [start] + bends + [(tx + tw * (k + 1) / (len(sources) + 1), ty - 1)]
            d = f"M {points[0][0]:.1f} {points[0][1]:.1f}"
            for (x0, y0), (x1, y1) in zip(points, points[1:]):
                mid = (y0 + y1) / 2
                d += f" C {x0:.1f} {mid:.1f} {x1:.1f} {mid:.1f} {x1:.1f} {y1:.1f}"
            paths.append(f'<path class="edge" d="{d}" marker-end="url(#arrow)"/>')
    paths.append("</g>")
    return "\n".join(paths)


def _box_svg(node, view, x, y, w, h):
    fill = FILL.get(node.kind) if node.kind != "op" else FILL[_flops.category(node.op)]
    rx = 10 if node.kind == "input" else 4
    title = escape(_details(node, view))
    parts = [f'<g class="node {node.kind}" id={quoteattr(node.id)}><title>{title}</title>',
             f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" fill="{fill}"/>']
    for k, line in enumerate(_lines(node)):
        cls = "op" if k == 0 else "dim"
        parts.append(f'<text class="{cls}" x="{x + PAD:.1f}" y="{y + PAD / 2 + (k + 1) * LINE_H - 3:.1f}">'
                     f"{escape(line)}</text>")
    parts.append("</g>")
    return "".join(parts)


def _tag_svg(leaf, module, x, y, anchor_y, anchor_x):
    label = _tag_text(leaf, module)
    w = len(label) * TAG_CHAR_W + 8
    title = escape(f"parameter {leaf.name}\nshape {_shape(leaf.shape)} {leaf.dtype or ''}\n{leaf.params:,} elements")
    return (f'<g class="node parameter param" id={quoteattr(leaf.id)}><title>{title}</title>'
            f'<line class="tagline" x1="{anchor_x:.1f}" y1="{anchor_y:.1f}" x2="{x:.1f}" y2="{y + TAG_H / 2:.1f}"/>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{TAG_H}" rx="3" fill="{FILL["parameter"]}"/>'
            f'<text x="{x + 4:.1f}" y="{y + TAG_H - 4:.1f}">{escape(label)}</text></g>')


def _details(node, view):
    """The tooltip text of a node: every field a person may want, one per line."""
    lines = [f"{node.name}  ({node.kind})"]
    if node.kind == "op":
        lines.append(f"module: {node.module if node.module is not None else 'unknown'}"
                     + (f" ({node.module_type})" if node.module_type else ""))
    lines.append(f"output: {_shape(node.shape)} {node.dtype or 'dtype unknown'}")
    if node.kind == "op":
        lines.append(f"parameters: {node.params:,}")
        lines.append(f"FLOPs: {node.flops:,} ({_flops.category(node.op)} rule)")
        if node.inputs:
            lines.append("inputs: " + ", ".join(view.by_id[i].name for i in node.inputs))
    return "\n".join(lines)


def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _short_flops(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}FLOPs"
    return f"{n} FLOPs"


HTML_STYLE = """
html, body { margin: 0; height: 100%; font-family: sans-serif; }
#bar { padding: 6px 12px; background: #f3f4f6; border-bottom: 1px solid #ccc; font-size: 13px; }
#view { position: absolute; top: 32px; bottom: 0; left: 0; right: 0; overflow: hidden; cursor: grab; }
#view svg { width: 100%; height: 100%; }
#tip { position: fixed; display: none; pointer-events: none; background: #fffff4; border: 1px solid #999;
       padding: 6px 8px; font: 12px monospace; white-space: pre; box-shadow: 2px 2px 6px rgba(0,0,0,.2); }
"""

# Zoom: the wheel scales the viewBox around the pointer. Pan: dragging moves it. Double-click: fit the whole graph.
# Tooltips: each node's <title> becomes the text of one floating div (removed from the SVG so it does not show twice).
HTML_SCRIPT = """
const svg = document.querySelector('#view svg'), view = document.getElementById('view');
const tip = document.getElementById('tip');
const full = [0, 0, +svg.getAttribute('width'), +svg.getAttribute('height')];
svg.removeAttribute('width'); svg.removeAttribute('height'); svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
let vb = [0, 0, view.clientWidth, view.clientHeight];
const show = () => svg.setAttribute('viewBox', vb.join(' '));
function fit() {
  const s = Math.max(full[2] / view.clientWidth, full[3] / view.clientHeight);
  vb = [0, 0, view.clientWidth * s, view.clientHeight * s]; show();
}
show();
view.addEventListener('wheel', e => {
  e.preventDefault();
  const f = Math.exp(e.deltaY * 0.0015), r = view.getBoundingClientRect();
  const px = vb[0] + (e.clientX - r.left) / r.width * vb[2], py = vb[1] + (e.clientY - r.top) / r.height * vb[3];
  vb = [px - (px - vb[0]) * f, py - (py - vb[1]) * f, vb[2] * f, vb[3] * f]; show();
}, {passive: false});
let drag = null;
view.addEventListener('mousedown', e => { drag = [e.clientX, e.clientY]; view.style.cursor = 'grabbing'; });
window.addEventListener('mouseup', () => { drag = null; view.style.cursor = 'grab'; });
window.addEventListener('mousemove', e => {
  if (drag) {
    const s = vb[2] / view.clientWidth;
    vb[0] -= (e.clientX - drag[0]) * s; vb[1] -= (e.clientY - drag[1]) * s; drag = [e.clientX, e.clientY]; show();
  }
  tip.style.left = (e.clientX + 14) + 'px'; tip.style.top = (e.clientY + 14) + 'px';
});
view.addEventListener('dblclick', fit);
let lastWidth = view.clientWidth || 1;
window.addEventListener('resize', () => {  // keep the zoom level, show more or less of the graph
  const s = vb[2] / lastWidth; lastWidth = view.clientWidth || 1;
  vb[2] = lastWidth * s; vb[3] = view.clientHeight * s; show();
});
document.querySelectorAll('g.node').forEach(g => {
  const t = g.querySelector('title'); const text = t ? t.textContent : ''; if (t) t.remove();
  g.addEventListener('mouseenter', () => { tip.textContent = text; tip.style.display = 'block'; });
  g.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
});
"""


def render_html(view):
    """A self-contained HTML page: the inline SVG, a title bar with the totals, tooltips, zoom and pan."""
    t = view.totals()
    summary = (f"{escape(view.name)} — {t['ops']} ops · {t['parameters']:,} parameters · "
               f"{_short_flops(t['flops'])} · wheel: zoom, drag: pan, double-click: fit")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{escape(view.name)} — computation graph</title><style>{HTML_STYLE}</style></head>\n<body>\n"
            f'<div id="bar">{summary}</div>\n<div id="view">\n{render_svg(view, standalone=False)}</div>\n'
            f'<div id="tip"></div>\n<script>{HTML_SCRIPT}</script>\n</body></html>\n')
