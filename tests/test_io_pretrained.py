"""read_state_dict: safetensors natively (bfloat16 included), .pt only through torch.load(weights_only=True),
clear errors without torch and for unknown files."""

import builtins
import sys

import numpy as np
import pytest

import glassbox.io as gio
from glassbox.io import ModelFileError, read_state_dict


def test_safetensors_round_trip(tmp_path):
    state = {"conv.weight": np.random.default_rng(0).standard_normal((4, 1, 3, 3)).astype(np.float32),
             "conv.bias": np.arange(4, dtype=np.float32), "bn.num_batches_tracked": np.array(7, dtype=np.int64)}
    path = tmp_path / "w.safetensors"
    gio.save(state, path)
    loaded = read_state_dict(path)
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype and np.array_equal(loaded[key], value)


def test_safetensors_half_precision_is_widened_exactly(tmp_path):
    half = np.array([0.5, -1.25, 65504.0], dtype=np.float16)
    path = tmp_path / "half.safetensors"
    gio.save({"w": half}, path)
    with pytest.warns(UserWarning, match="1 float16"):
        loaded = read_state_dict(path)
    assert loaded["w"].dtype == np.float32 and np.array_equal(loaded["w"], half.astype(np.float32))


def test_safetensors_bfloat16_decoded_without_torch(tmp_path, torch):
    from safetensors.torch import save_file

    values = torch.tensor([[1.0, -2.5], [3.140625, 1e-3]]).to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    save_file({"w": values, "b": torch.arange(3, dtype=torch.float32)}, str(path))
    with pytest.warns(UserWarning, match="1 bfloat16"):
        loaded = read_state_dict(path)
    assert loaded["w"].dtype == np.float32
    assert np.array_equal(loaded["w"], values.float().numpy())  # torch's own widening is the oracle
    assert np.array_equal(loaded["b"], np.arange(3, dtype=np.float32))


def test_pt_through_torch_with_container_and_data_parallel_prefix(tmp_path, torch):
    weight = torch.randn(3, 2)
    state = {"module.fc.weight": weight, "module.fc.bias": torch.zeros(3),
             "module.bn.num_batches_tracked": torch.tensor(5)}
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": state, "optimizer": {"lr": 0.1}}, path)
    loaded = read_state_dict(path)
    assert list(loaded) == ["fc.weight", "fc.bias", "bn.num_batches_tracked"]  # 'module.' stripped: every key had it
    assert np.array_equal(loaded["fc.weight"], weight.numpy()) and loaded["fc.weight"].dtype == np.float32
    assert loaded["bn.num_batches_tracked"].dtype == np.int64 and loaded["bn.num_batches_tracked"] == 5
    kept = read_state_dict(path, strip_prefix=None)
    assert list(kept) == list(state)


def test_pt_prefix_not_stripped_unless_uniform(tmp_path, torch):
    path = tmp_path / "mixed.pth"
    torch.save({"module.weight": torch.ones(2), "head.weight": torch.ones(2)}, path)
    assert set(read_state_dict(path)) == {"module.weight", "head.weight"}
    assert set(read_state_dict(path, strip_prefix="head.")) == {"module.weight", "weight"}


def test_pt_bfloat16_and_float16_widened(tmp_path, torch):
    path = tmp_path / "half.bin"
    torch.save({"a": torch.tensor([1.5, -2.0]).half(), "b": torch.tensor([0.1]).to(torch.bfloat16)}, path)
    with pytest.warns(UserWarning, match="1 float16 and 1 bfloat16"):
        loaded = read_state_dict(path)
    assert loaded["a"].dtype == np.float32 and np.array_equal(loaded["a"], [1.5, -2.0])
    assert loaded["b"].dtype == np.float32
    assert loaded["b"][0] == torch.tensor([0.1]).to(torch.bfloat16).float().item()


class Payload:
    """A non-tensor object: weights_only=True must refuse to unpickle it."""

    def __init__(self):
        self.value = 42


def test_pt_with_pickled_object_is_refused(tmp_path, torch):
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.ones(2), "payload": Payload()}, path)
    with pytest.raises(ModelFileError, match="weights_only") as info:
        read_state_dict(path)
    assert str(path) in str(info.value)


def test_pt_whole_model_is_refused(tmp_path, torch):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 3), path)
    with pytest.raises(ModelFileError, match="state_dict"):
        read_state_dict(path)


def test_pt_non_tensor_entries_are_named(tmp_path, torch):
    path = tmp_path / "odd.pt"
    torch.save({"weight": torch.ones(2), "epoch": 3}, path)
    with pytest.raises(ModelFileError, match="'epoch' \\(int\\)"):
        read_state_dict(path)


def test_pt_without_torch_explains_how_to_convert(tmp_path, monkeypatch):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"PK\x03\x04 not read anyway")
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ModelFileError) as info:
        read_state_dict(path)
    message = str(info.value)
    assert ".pt files are pickles" in message and "weights_only=True" in message
    assert "install torch" in message and "save_file" in message and "weights.safetensors" in message


@pytest.mark.parametrize("name", ["weights.npz", "weights.h5", "weights"])
def test_unknown_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00" * 16)
    with pytest.raises(ModelFileError, match="unknown weights file extension"):
        read_state_dict(path)


def test_missing_safetensors_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        read_state_dict(tmp_path / "absent.safetensors")
