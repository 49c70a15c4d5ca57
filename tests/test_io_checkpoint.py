"""Checkpoints: every part round-trips with exact types and values (int keys, RNG states, NaN, None), one file."""

import json
import math

import numpy as np
import pytest
import safetensors.numpy

import glassbox as gb
from glassbox.io import FORMAT_VERSION, ModelFileError, load, load_checkpoint, load_metadata, save, save_checkpoint


def _assert_same(actual, expected, where="value"):
    """Deep equality that also demands the same types (int stays int, tuple stays tuple, np.float32 stays)."""
    assert type(actual) is type(expected) or (isinstance(expected, gb.Tensor) and type(actual) is gb.Tensor), \
        f"{where}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert type(next(k for k in actual if k == key)) is type(key), f"{where}: key type of {key!r}"
            _assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_same(a, e, f"{where}[{i}]")
    elif isinstance(expected, (gb.Tensor, np.ndarray)):
        a, e = (actual.data, expected.data) if isinstance(expected, gb.Tensor) else (actual, expected)
        assert a.dtype == e.dtype and a.shape == e.shape, f"{where}: {a.dtype}{a.shape} != {e.dtype}{e.shape}"
        np.testing.assert_array_equal(a, e, err_msg=where)
    elif isinstance(expected, (float, np.floating)) and math.isnan(expected):
        assert math.isnan(actual), where
    elif isinstance(expected, float) and expected == 0:
        assert math.copysign(1, actual) == math.copysign(1, expected), f"{where}: sign of zero"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _parts():
    rng = np.random.default_rng(0)
    model_state = {"fc.weight": gb.from_numpy(rng.standard_normal((3, 2)).astype(np.float32)),
                   "fc.bias": gb.zeros(3), "bn.num_batches_tracked": gb.tensor(12)}
    optimizer_state = {
        # torch-style: per-parameter state keyed by int index, param_groups refer to the same ints
        "state": {0: {"step": gb.tensor(12.0), "exp_avg": gb.from_numpy(rng.standard_normal((3, 2))),
                      "exp_avg_sq": gb.ones(3, 2), "max_exp_avg_sq": None},
                  1: {"step": 12, "momentum_buffer": np.arange(3.0)}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
                          "foreach": None, "params": [0, 1]}],
    }
    scheduler_state = {"last_epoch": 4, "_last_lr": [0.00081], "gamma": 0.9, "base_lrs": [1e-3]}
    generator = gb.Generator(3)
    generator.numpy.standard_normal(5)  # move off the seed so the state is not trivially the initial one
    extra = {
        "epoch": 4, "step": 1200, "best_val_loss": 0.123456789012345678, "neg_zero": -0.0,
        "numpy_rng": np.random.PCG64(5).state,  # 128-bit ints
        "legacy_rng": np.random.RandomState(7).get_state(),  # a tuple with a uint32 array
        "mt_rng": np.random.MT19937(9).state,
        "glassbox_rng": generator.get_state(),
        "loader": {"epoch": 4, "permutation": np.random.default_rng(1).permutation(10), "position": 37},
        "history": {"loss": [2.3, 1.1, float("nan")], "val_loss": [float("inf"), -float("inf"), 0.5]},
        "mixed_keys": {0: "int", "0": "str", 1.5: "float", True: "bool", None: "none", (1, "a"): "tuple"},
        "dollar": {"$type": "a user key that looks like our marker"},
        "numpy_scalars": [np.float32(0.1), np.float64(1 / 3), np.int64(-(2**62)), np.uint64(2**64 - 1),
                          np.bool_(True), np.float16(65504), np.int8(-128), np.float32("nan")],
        "big": 2**200, "empty": {}, "empty_list": [], "empty_tuple": (), "nested": [[[]], ({"a": (None,)},)],
        "text": "multi\nline ünïcode \"quoted\"", "empty_array": np.zeros((0, 4), np.int32),
    }
    return dict(model_state=model_state, optimizer_state=optimizer_state, scheduler_state=scheduler_state,
                extra=extra)


def test_round_trip_of_every_part_is_exact(tmp_path):
    parts = _parts()
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, **parts)
    loaded = load_checkpoint(path)
    assert set(loaded) == {"model_state", "optimizer_state", "scheduler_state", "extra"}
    for part, value in parts.items():
        _assert_same(loaded[part], value, part)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors"]


def test_restored_rng_states_continue_the_same_streams(tmp_path):
    bit_generator = np.random.PCG64(5)
    np.random.Generator(bit_generator).standard_normal(3)
    generator = gb.Generator(11)
    save_checkpoint(tmp_path / "c.safetensors", model_state={},
                    extra={"np": bit_generator.state, "gb": generator.get_state()})
    extra = load_checkpoint(tmp_path / "c.safetensors")["extra"]
    restored = np.random.PCG64()
    restored.state = extra["np"]
    assert restored.random_raw(4).tolist() == bit_generator.random_raw(4).tolist()
    other = gb.Generator(0).set_state(extra["gb"])
    np.testing.assert_array_equal(other.numpy.standard_normal(4), generator.numpy.standard_normal(4))


def test_only_model_state_is_required_and_missing_parts_come_back_none(tmp_path):
    save_checkpoint(tmp_path / "c.safetensors", model_state={"w": gb.ones(2)})
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    assert loaded["optimizer_state"] is None and loaded["scheduler_state"] is None and loaded["extra"] is None
    _assert_same(loaded["model_state"], {"w": gb.ones(2)})


def test_the_file_is_plain_safetensors_with_readable_names_and_a_version(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, **_parts())
    names = set(safetensors.numpy.load_file(str(path)))
    assert {"model/fc.weight", "model/bn.num_batches_tracked", "optimizer/state/0/exp_avg",
            "optimizer/state/1/momentum_buffer", "extra/loader/permutation"} <= names
    assert {"optimizer/state/0/step"} <= set(load(path))
    metadata = load_metadata(path)
    assert metadata["glassbox.format"] == "checkpoint"
    assert metadata["glassbox.format_version"] == str(FORMAT_VERSION)
    json.loads(metadata["glassbox.checkpoint"])  # plain JSON any tool can read


def test_clashing_tensor_names_stay_distinct(tmp_path):
    # 0 and "0" (and a key containing "/") would give the same tensor name; the JSON references keep them apart.
    state = {0: gb.ones(1), "0": gb.zeros(1), "a/b": gb.full((1,), 2.0), "a": {"b": gb.full((1,), 3.0)}}
    save_checkpoint(tmp_path / "c.safetensors", model_state={}, optimizer_state=state)
    _assert_same(load_checkpoint(tmp_path / "c.safetensors")["optimizer_state"], state)


def test_parameters_with_grad_are_saved_as_plain_values(tmp_path):
    weight = gb.ones(2, 2, requires_grad=True)
    save_checkpoint(tmp_path / "c.safetensors", model_state={"w": weight})
    loaded = load_checkpoint(tmp_path / "c.safetensors")["model_state"]["w"]
    assert type(loaded) is gb.Tensor and not loaded.requires_grad
    np.testing.assert_array_equal(loaded.data, weight.data)


@pytest.mark.parametrize("extra, fragment", [
    ({"fn": print}, r"extra\['fn'\] is a builtin_function_or_method"),
    ({"history": [1, object()]}, r"extra\['history'\]\[1\] is a object"),
    ({"s": {1, 2}}, "is a set"),
    ({"c": 1j}, "is a complex"),
    ({"c": np.complex64(1j)}, "NumPy complex64 scalar"),
    ({"a": np.array(["x"])}, "dtype <U1"),
    ({gb.ones(1): 1}, "as a key"),
])
def test_unstorable_values_are_named(tmp_path, extra, fragment):
    with pytest.raises(TypeError, match=fragment):
        save_checkpoint(tmp_path / "c.safetensors", model_state={}, extra=extra)
    assert list(tmp_path.iterdir()) == []


def test_a_structure_that_contains_itself_is_refused(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        save_checkpoint(tmp_path / "c.safetensors", model_state={}, extra={"loop": loop})
    shared = [1]
    save_checkpoint(tmp_path / "c.safetensors", model_state={}, extra={"a": shared, "b": shared})  # not a cycle


def test_model_state_must_be_a_mapping(tmp_path):
    with pytest.raises(TypeError, match="model_state must be a state dict"):
        save_checkpoint(tmp_path / "c.safetensors", model_state=[gb.ones(1)])


def _write_checkpoint_file(path, document, version="1", tensors=None, fmt="checkpoint"):
    metadata = {"glassbox.format": fmt, "glassbox.format_version": version,
                "glassbox.checkpoint": document if isinstance(document, str) else json.dumps(document)}
    safetensors.numpy.save_file(tensors or {}, str(path), metadata=metadata)


_EMPTY = {"model_state": {}, "optimizer_state": None, "scheduler_state": None, "extra": None}


@pytest.mark.parametrize("document, version, fragment", [
    (_EMPTY, "2", "format version 2, but this glassbox reads only versions up to 1"),
    (_EMPTY, "one", "format version 'one' is not a number"),
    (_EMPTY, "0", "format version 0"),
    ("{not json", "1", "not valid JSON"),
    ('{"model_state": {}, "optimizer_state": NaN, "scheduler_state": null, "extra": null}', "1", "NaN"),
    ({"model_state": {}}, "1", "must be an object with keys"),
    ([1, 2], "1", "must be an object with keys"),
    (dict(_EMPTY, extra={"w": {"$type": "tensor", "name": "extra/w"}}), "1",
     "extra['w']: refers to tensor 'extra/w', which the file does not hold"),
    (dict(_EMPTY, extra={"$type": "module", "path": "os.system"}), "1", "unknown entry type 'module'"),
    (dict(_EMPTY, extra={"$type": "numpy", "dtype": "object", "value": 1}), "1", "unknown NumPy scalar dtype"),
    (dict(_EMPTY, extra={"$type": "numpy", "dtype": "int8", "value": 1000}), "1", "not a valid NumPy int8"),
    (dict(_EMPTY, extra={"$type": "numpy", "dtype": "int64", "value": 1.5}), "1", "cannot hold 1.5"),
    (dict(_EMPTY, extra={"$type": "float", "value": "1e999"}), "1", "unknown special float"),
    (dict(_EMPTY, extra={"$type": "dict", "items": [[1]]}), "1", "[key, value] pairs"),
    (dict(_EMPTY, extra={"$type": "dict", "items": [[[1, 2], 3]]}), "1", "cannot be a key"),
    (dict(_EMPTY, extra={"$type": "tuple"}), "1", "needs a list 'items'"),
])
def test_damaged_or_foreign_checkpoint_metadata_is_explained(tmp_path, document, version, fragment):
    path = tmp_path / "c.safetensors"
    _write_checkpoint_file(path, document, version)
    with pytest.raises(ModelFileError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and fragment in str(info.value), str(info.value)


def test_a_weights_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    save({"w": gb.ones(2)}, path)
    with pytest.raises(ModelFileError, match="not a glassbox checkpoint"):
        load_checkpoint(path)
    _write_checkpoint_file(path, _EMPTY, fmt="something-else")
    with pytest.raises(ModelFileError, match="not a glassbox checkpoint"):
        load_checkpoint(path)


def test_a_tensor_reference_of_a_dtype_glassbox_lacks_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    _write_checkpoint_file(path, dict(_EMPTY, model_state={"w": {"$type": "tensor", "name": "model/w"}}),
                           tensors={"model/w": np.arange(3, dtype=np.uint32)})
    with pytest.raises(ModelFileError, match="do not support"):
        load_checkpoint(path)


def test_deeply_nested_metadata_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    document = '{"model_state": {}, "optimizer_state": null, "scheduler_state": null, "extra": ' + \
        "[" * 100_000 + "]" * 100_000 + "}"
    _write_checkpoint_file(path, document)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        load_checkpoint(path)
