"""Group normalisation: the functional group_norm (torch.nn.functional's semantics) and the GroupNorm layer."""

from .. import dtypes
from ..errors import ShapeError
from ..functional.operands import cast, floating
from ..ops import group_norm as gn
from ..tensor import Tensor
from .module import Module
from .normalization import add_affine_parameters, reset_affine_parameters


def _affine_inputs(weight, bias, channels, dtype):
    """weight and bias (each optional) as (C,) tensors in `dtype`, and the flags the fused op takes."""
    inputs = []
    for name, value in (("weight", weight), ("bias", bias)):
        if value is None:
            continue
        value = value if isinstance(value, Tensor) else Tensor(value)
        if value.shape != (channels,):
            raise ShapeError(f"group_norm: {name} must have shape ({channels},) (one value per channel), got "
                             f"{value.shape}")
        inputs.append(cast(value, dtype) if value.dtype != dtype else value)
    return inputs, weight is not None, bias is not None


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation of `input` (N, C, *): the C channels form `num_groups` groups of consecutive channels,
    and each sample's group is normalised over its channels and all trailing dims (biased variance), then scaled by
    weight (C,) and shifted by bias (C,) per channel when given. Returns a tensor of input's shape."""
    input = floating(input, "group_norm")
    num_groups = int(num_groups)
    if input.ndim < 2:
        raise ShapeError(f"group_norm: input must have shape (N, C, *) with a channel dim 1, got {input.shape}")
    channels = input.shape[1]
    if num_groups <= 0 or channels % num_groups != 0:
        raise ShapeError(f"group_norm: the number of channels ({channels}) must be divisible by num_groups "
                         f"({num_groups}); input shape {input.shape}")
    dtype = weight.dtype if isinstance(weight, Tensor) else input.dtype
    input = cast(input, dtype) if input.dtype != dtype else input
    affine, has_weight, has_bias = _affine_inputs(weight, bias, channels, dtype)
    return gn.GroupNorm.apply(input, *affine, has_weight=has_weight, has_bias=has_bias, num_groups=num_groups,
                              eps=eps)


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): input (N, C, *) -> the same shape, with C = num_channels split into
    num_groups groups. weight (C,) = 1 and bias (C,) = 0 when affine (a per-channel affine map, as in PyTorch);
    bias=False leaves the bias out. `device` is accepted for PyTorch compatibility (everything lives on the CPU)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        num_groups, num_channels = int(num_groups), int(num_channels)
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        add_affine_parameters(self, (num_channels,), affine, bias, dtype)

    def reset_parameters(self):
        reset_affine_parameters(self)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ShapeError(f"GroupNorm(num_groups={self.num_groups}, num_channels={self.num_channels}) expected "
                             f"input of shape (N, {self.num_channels}, *), got {tuple(input.shape)}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
