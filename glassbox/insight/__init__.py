"""Look inside networks: the computation-graph view and step-through backpropagation."""

from .backprop_steps import (
    BackpropStepper,
    demo_graph,
    format_step,
    record_steps,
    save_steps,
    step_through,
    summarize,
)
from .formulas import Formula
from .formulas import lookup as formula_for
from .graph import GraphNode, GraphView, format_flops, graph_of_model, graph_view

__all__ = ["BackpropStepper", "demo_graph", "format_step", "record_steps", "save_steps", "step_through",
           "summarize", "Formula", "formula_for", "GraphNode", "GraphView", "format_flops", "graph_of_model",
           "graph_view"]
