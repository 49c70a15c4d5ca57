"""Loss lookup for fit(): a loss module or callable passes through; a name picks an nn.functional loss."""

from ..nn import functional as F

_BY_NAME = {
    "cross_entropy": F.cross_entropy, "categorical_crossentropy": F.cross_entropy,
    "nll": F.nll_loss, "mse": F.mse_loss, "mean_squared_error": F.mse_loss,
    "l1": F.l1_loss, "mae": F.l1_loss, "mean_absolute_error": F.l1_loss,
    "bce": F.binary_cross_entropy, "binary_crossentropy": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def get_loss(loss):
    """A callable loss(output, target) -> scalar tensor, from a callable or a name."""
    if callable(loss):
        return loss
    if isinstance(loss, str):
        if loss in _BY_NAME:
            return _BY_NAME[loss]
        raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(_BY_NAME)} or a loss module")
    raise TypeError(f"loss must be a callable (e.g. nn.CrossEntropyLoss()) or a name, got {type(loss).__name__}")
