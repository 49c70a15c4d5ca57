"""glassbox.io save/load: round trips by dtype and shape, metadata, interop with safetensors itself, save errors."""

import numpy as np
import pytest
import safetensors.numpy

import glassbox as gb
from glassbox.io import ModelFileError, load, load_metadata, save


def _state():
    rng = np.random.default_rng(0)
    return {
        "fc.weight": gb.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)),
        "fc.bias": gb.from_numpy(rng.standard_normal(4)),  # float64
        "bn.num_batches_tracked": gb.tensor(7),  # 0-d int64, as torch stores it
        "mask": gb.tensor([True, False, True]),
        "empty": gb.zeros(0, 5),
        "layers.0.conv.weight": gb.from_numpy(rng.integers(-5, 5, size=(2, 1, 3, 3))),
        "scalar": gb.tensor(2.5),
    }


def test_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path):
    state = _state()
    path = tmp_path / "model.safetensors"
    save(state, path)
    loaded = load(path)
    assert set(loaded) == set(state)
    for name, tensor in state.items():
        assert isinstance(loaded[name], gb.Tensor)
        assert loaded[name].dtype == tensor.dtype, name
        assert loaded[name].shape == tensor.shape, name
        np.testing.assert_array_equal(loaded[name].data, tensor.data)
    assert loaded["fc.weight"].dtype == np.float32
    assert loaded["fc.bias"].dtype == np.float64
    assert loaded["bn.num_batches_tracked"].dtype == np.int64 and loaded["bn.num_batches_tracked"].ndim == 0
    assert loaded["mask"].dtype == np.bool_


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64",
                                   "bool"])
def test_every_glassbox_dtype_round_trips(tmp_path, dtype):
    array = (np.arange(-3, 3) % 2 if dtype == "bool" else np.arange(-3, 3) if dtype[0] != "u" else np.arange(6))
    array = array.astype(dtype)
    save({"x": array}, tmp_path / "x.safetensors")
    loaded = load(tmp_path / "x.safetensors")["x"]
    assert loaded.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(loaded.data, array)


def test_loaded_tensors_are_writable_leaves(tmp_path):
    # Optimizers update parameters in place, so a loaded tensor must not be a read-only view of file bytes.
    save({"w": gb.ones(3)}, tmp_path / "w.safetensors")
    w = load(tmp_path / "w.safetensors")["w"]
    w.data += 1
    assert w.is_leaf and not w.requires_grad
    np.testing.assert_array_equal(w.data, [2, 2, 2])


def test_non_contiguous_and_requires_grad_tensors_save_their_values(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    state = {"t": gb.from_numpy(base.T), "strided": gb.from_numpy(base[:, ::2]), "p": gb.ones(2, requires_grad=True)}
    save(state, tmp_path / "s.safetensors")
    loaded = load(tmp_path / "s.safetensors")
    np.testing.assert_array_equal(loaded["t"].data, base.T)
    np.testing.assert_array_equal(loaded["strided"].data, base[:, ::2])
    np.testing.assert_array_equal(loaded["p"].data, [1, 1])


def test_ndarray_values_and_big_endian_arrays_are_accepted(tmp_path):
    big = np.arange(4, dtype=">f4")
    save({"a": np.arange(3), "big": big}, tmp_path / "a.safetensors")
    loaded = load(tmp_path / "a.safetensors")
    np.testing.assert_array_equal(loaded["a"].data, [0, 1, 2])
    np.testing.assert_array_equal(loaded["big"].data, [0, 1, 2, 3])


def test_empty_state_dict(tmp_path):
    save({}, tmp_path / "empty.safetensors")
    assert load(tmp_path / "empty.safetensors") == {}


def test_metadata_round_trip(tmp_path):
    path = tmp_path / "m.safetensors"
    save({"w": gb.ones(2)}, path, metadata={"format": "pt", "epoch": "3", "note": "é ünïcode"})
    tensors, metadata = load(path, return_metadata=True)
    assert metadata == {"format": "pt", "epoch": "3", "note": "é ünïcode"}
    assert load_metadata(path) == metadata
    assert set(tensors) == {"w"}
    save({"w": gb.ones(2)}, path)
    assert load_metadata(path) == {}


def test_save_replaces_an_existing_file_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "w.safetensors"
    save({"w": gb.zeros(2)}, path)
    save({"v": gb.ones(3)}, str(path))
    assert set(load(path)) == {"v"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


def test_files_written_by_safetensors_numpy_load(tmp_path):
    arrays = {"a.b.c": np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32),
              "i": np.arange(5, dtype=np.int64), "flag": np.array(True), "e": np.zeros((3, 0), np.float64)}
    path = tmp_path / "ref.safetensors"
    safetensors.numpy.save_file(arrays, str(path), metadata={"k": "v"})
    tensors, metadata = load(path, return_metadata=True)
    assert metadata == {"k": "v"}
    for name, array in arrays.items():
        assert tensors[name].dtype == array.dtype and tensors[name].shape == array.shape
        np.testing.assert_array_equal(tensors[name].data, array)


def test_files_written_by_glassbox_load_in_safetensors_numpy(tmp_path):
    state = _state()
    path = tmp_path / "gb.safetensors"
    save(state, path, metadata={"k": "v"})
    arrays = safetensors.numpy.load_file(str(path))
    assert set(arrays) == set(state)
    for name, tensor in state.items():
        assert arrays[name].dtype == tensor.dtype and arrays[name].shape == tensor.shape
        np.testing.assert_array_equal(arrays[name], tensor.data)
    with safetensors.safe_open(str(path), framework="np") as f:
        assert f.metadata() == {"k": "v"}


def test_files_written_by_glassbox_load_in_torch(tmp_path, torch):
    import safetensors.torch

    path = tmp_path / "gb.safetensors"
    save(_state(), path)
    loaded = safetensors.torch.load_file(str(path))
    assert loaded["fc.weight"].dtype == torch.float32 and loaded["bn.num_batches_tracked"].dtype == torch.int64
    np.testing.assert_array_equal(loaded["fc.weight"].numpy(), _state()["fc.weight"].data)


@pytest.mark.parametrize("state, metadata, error, fragment", [
    ([1, 2], None, TypeError, "expected a dict"),
    ({1: gb.ones(1)}, None, TypeError, "names must be str"),
    ({"__metadata__": gb.ones(1)}, None, ValueError, "reserved"),
    ({"w": [1.0, 2.0]}, None, TypeError, "'w' is a list"),
    ({"w": np.array([object()])}, None, TypeError, "dtype object"),
    ({"w": gb.ones(1)}, {"epoch": 3}, TypeError, "metadata must be a dict of str -> str"),
    ({"w": gb.ones(1)}, "meta", TypeError, "metadata must be"),
])
def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path, state, metadata, error, fragment):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(error, match=fragment):
        save(state, path, metadata=metadata)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_and_directory_raise_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="no such file") as info:
        load(tmp_path / "nope.safetensors")
    assert info.value.path.endswith("nope.safetensors") and isinstance(info.value.__cause__, FileNotFoundError)
    with pytest.raises(ModelFileError, match="is a directory"):
        load(tmp_path)


def test_model_file_error_is_a_value_error_that_pickles():
    import pickle

    error = ModelFileError("m.safetensors", "truncated")
    assert isinstance(error, ValueError) and str(error) == "m.safetensors: truncated"
    copy = pickle.loads(pickle.dumps(error))  # our own object, made in this test: safe to unpickle
    assert (copy.path, copy.reason, str(copy)) == ("m.safetensors", "truncated", "m.safetensors: truncated")


def test_unsigned_dtypes_glassbox_lacks_widen_to_int64_without_changing_values(tmp_path):
    arrays = {"u16": np.array([0, 65535], np.uint16), "u32": np.array([0, 2**32 - 1], np.uint32),
              "u64": np.array([0, 2**63 - 1], np.uint64), "u64_empty": np.zeros(0, np.uint64)}
    safetensors.numpy.save_file(arrays, str(tmp_path / "u.safetensors"))
    loaded = load(tmp_path / "u.safetensors")
    for name, array in arrays.items():
        assert loaded[name].dtype == np.int64
        assert loaded[name].data.tolist() == array.tolist()
