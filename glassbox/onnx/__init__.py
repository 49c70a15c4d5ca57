"""Export glassbox models to ONNX: `glassbox.onnx.export(model, example_input, "model.onnx")`.

Opset: 17 by default. It is the first opset with LayerNormalization, every op used here has had its current
semantics since opset 13-17, and onnxruntime runs it in every release since 1.14 (the tests use onnxruntime as the
oracle). opset 18-21 also work: reductions then take their axes as an input, which the exporter handles.
The `onnx` package is an optional extra (pip install 'glassbox[onnx]'); it is imported only when export() runs.

Supported: the ops of MLPs (Linear, activations, softmax/log-softmax, dropout and other eval-mode identities),
CNNs (Conv2d with stride/padding/dilation/groups, ConvTranspose2d, max/avg pooling with ceil_mode and
count_include_pad, adaptive pooling, BatchNorm in eval, LayerNorm, GroupNorm, residual adds, cat, flatten,
upsampling) and recurrent nets (Embedding, RNN/LSTM/GRU of any depth, bidirectional, batch_first). SUPPORTED_OPS
lists the primitive ops; any other op raises ExportError naming the layer that used it.
"""

from .export import DEFAULT_OPSET, SUPPORTED_OPS, ExportError, export  # noqa: F401

__all__ = ["export", "ExportError", "SUPPORTED_OPS", "DEFAULT_OPSET"]
