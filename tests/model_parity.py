"""Shared by the zoo's parity tests: torch weights into a glassbox model (directly or through a .safetensors file as a
user would), eval-mode logits of both, and state_dict shapes."""

import glassbox as gb
import glassbox.io as gio


def copy_weights(torch_model, gb_model):
    gb_model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    return gb_model


def load_through_safetensors(torch_model, gb_model, tmp_path):
    """Export torch's state_dict as a user would (safetensors.torch), load it with glassbox.io.load."""
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in torch_model.state_dict().items()}, str(path))
    result = gb_model.load_state_dict(gio.load(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    return gb_model


def eval_logits(gb_model, torch_model, x):
    """(glassbox logits, torch logits) for the same numpy batch x, both models in eval mode without grad."""
    import torch

    gb_model.eval()
    torch_model.eval()
    with gb.no_grad():
        ours = gb_model(gb.from_numpy(x)).numpy()
    with torch.no_grad():
        theirs = torch_model(torch.from_numpy(x)).numpy()
    return ours, theirs


def shapes(state_dict):
    return {k: tuple(v.shape) for k, v in state_dict.items()}
