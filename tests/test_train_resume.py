"""fit(checkpoint=..., resume_from=...): an interrupted run, resumed into a fresh model, ends bit for bit where the
uninterrupted run ends — with dropout, shuffling, Adam, a StepLR schedule and EarlyStopping's state.

The bit-identical runs happen in child processes with OPENBLAS_NUM_THREADS=1, so that BLAS sums in a fixed order.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.optim as optim
from glassbox.train import Callback, CSVLogger, EarlyStopping, fit

REPO = Path(__file__).resolve().parent.parent
EPOCHS = 6

# The training script. Arguments: epochs, checkpoint path, output prefix, and flags: --resume (continue from the
# checkpoint if it exists, into a model built from a different seed), --delay S (sleep S seconds per batch, so that a
# parent can kill it mid-run; sleeping changes no number).
SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    import glassbox as gb
    import glassbox.nn as nn
    import glassbox.optim as optim
    from glassbox.train import Callback, EarlyStopping, fit

    epochs, checkpoint, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    resume = "--resume" in sys.argv and os.path.exists(checkpoint)
    delay = float(sys.argv[sys.argv.index("--delay") + 1]) if "--delay" in sys.argv else 0.0

    rng = np.random.default_rng(0)
    x = rng.normal(size=(700, 12)).astype(np.float32)
    y = ((x[:, :3].sum(1) > 0).astype(np.int64) + (x[:, 3] > 0.5)).astype(np.int64)

    gb.manual_seed(12345 if resume else 0)  # a resumed run starts from a different initialisation
    model = nn.Sequential(nn.Linear(12, 48), nn.ReLU(), nn.Dropout(0.3), nn.Linear(48, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    stopper = EarlyStopping(monitor="val_loss", patience=1000, restore_best_weights=True)

    class Last(Callback):  # the weights after the last epoch, before EarlyStopping restores its best ones
        def on_train_begin(self, logs=None):
            self.weights = {k: v.data.copy() for k, v in self.model.state_dict().items()}

        def on_epoch_end(self, epoch, logs=None):
            self.weights = {k: v.data.copy() for k, v in self.model.state_dict().items()}

    class Slow(Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(delay)

    last = Last()
    history = fit(model, (x[:600], y[:600]), val=(x[600:], y[600:]), epochs=epochs, batch_size=32, shuffle=True,
                  loss="cross_entropy", optimizer=optimizer, scheduler=scheduler, metrics=["accuracy"],
                  callbacks=[stopper, last] + ([Slow()] if delay else []), checkpoint=checkpoint,
                  resume_from=checkpoint if resume else None, verbose=0)
    arrays = {"final/" + k: v.data for k, v in model.state_dict().items()}
    arrays.update({"last/" + k: v for k, v in last.weights.items()})
    np.savez(out + ".npz", **arrays)
    logs = {k: v for k, v in history.history.items() if k != "seconds"}
    state = {"history": logs, "epochs": history.epoch, "wait": stopper.wait, "best": stopper.best,
             "best_epoch": stopper.best_epoch, "lr": optimizer.param_groups[0]["lr"],
             "scheduler_last_epoch": scheduler.last_epoch, "resumed": resume}
    with open(out + ".json", "w") as handle:
        json.dump(state, handle)
""")


def child(script, epochs, checkpoint, out, *flags):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(script), str(epochs), str(checkpoint), str(out), *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def result(out):
    arrays = dict(np.load(str(out) + ".npz"))
    with open(str(out) + ".json") as handle:
        return arrays, json.load(handle)


def assert_same_run(a, b):
    arrays_a, state_a = a
    arrays_b, state_b = b
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        assert np.array_equal(arrays_a[key], arrays_b[key]), key
    for key in ("history", "epochs", "wait", "best", "best_epoch", "lr", "scheduler_last_epoch"):
        assert state_a[key] == state_b[key], key


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "train.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(scope="module")
def uninterrupted(script, tmp_path_factory):
    """The reference: EPOCHS epochs in one go (writing checkpoints, which must not change anything)."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    finish(child(script, EPOCHS, directory / "ckpt.safetensors", directory / "out"))
    reference = result(directory / "out")
    assert reference[1]["epochs"] == list(range(EPOCHS))
    assert len(reference[1]["history"]["val_loss"]) == EPOCHS
    return reference


def test_the_reference_run_is_reproducible_and_the_resumed_model_starts_elsewhere(script, uninterrupted, tmp_path):
    finish(child(script, EPOCHS, tmp_path / "ckpt.safetensors", tmp_path / "again"))
    assert_same_run(result(tmp_path / "again"), uninterrupted)
    # the comparisons below can fail: a resumed run builds its model from another seed, so only the checkpoint
    # can bring it back onto the reference's path
    gb.manual_seed(12345)
    fresh = nn.Sequential(nn.Linear(12, 48), nn.ReLU(), nn.Dropout(0.3), nn.Linear(48, 3))
    gb.manual_seed(0)
    reference_init = nn.Sequential(nn.Linear(12, 48), nn.ReLU(), nn.Dropout(0.3), nn.Linear(48, 3))
    assert not np.array_equal(fresh[0].weight.data, reference_init[0].weight.data)


@pytest.mark.parametrize("stop_after", [1, 3])
def test_resume_into_a_fresh_model_is_bit_identical(script, uninterrupted, tmp_path, stop_after):
    checkpoint = tmp_path / "ckpt.safetensors"
    finish(child(script, stop_after, checkpoint, tmp_path / "part"))
    part = result(tmp_path / "part")
    assert part[1]["epochs"] == list(range(stop_after))
    finish(child(script, EPOCHS, checkpoint, tmp_path / "resumed", "--resume"))
    resumed = result(tmp_path / "resumed")
    assert resumed[1]["resumed"]
    assert resumed[1]["epochs"] == list(range(EPOCHS))  # the History continues: EPOCHS entries
    assert_same_run(resumed, uninterrupted)


def run_with_kills(script, tmp_path, delays, per_batch_delay):
    """Start the run, kill it (SIGKILL) `delay` seconds after each start (None: after its first new checkpoint),
    restart it with --resume, and finally let it finish. Returns the final result and the number of kills."""
    checkpoint = tmp_path / "ckpt.safetensors"
    kills = 0
    for delay in delays:
        before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
        process = child(script, EPOCHS, checkpoint, tmp_path / "out", "--resume", "--delay", str(per_batch_delay))
        started = time.monotonic()
        while process.poll() is None:
            if delay is None:
                if checkpoint.exists() and checkpoint.stat().st_mtime_ns != before:
                    break
            elif time.monotonic() - started >= delay:
                break
            time.sleep(0.002)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=60)
    finish(child(script, EPOCHS, checkpoint, tmp_path / "out", "--resume"))
    return result(tmp_path / "out"), kills


def test_kill_after_the_first_checkpoint_then_resume(script, uninterrupted, tmp_path):
    final, kills = run_with_kills(script, tmp_path, [None], per_batch_delay=0.003)
    assert kills == 1  # it really was killed mid-run
    assert final[1]["resumed"]
    assert_same_run(final, uninterrupted)


@pytest.mark.slow
def test_several_kills_at_random_moments(script, uninterrupted, tmp_path):
    rng = random.Random(2024)
    delays = [rng.uniform(0.3, 2.0) for _ in range(8)]
    final, kills = run_with_kills(script, tmp_path, delays, per_batch_delay=0.04)
    assert kills >= 4
    assert_same_run(final, uninterrupted)


# ----- in-process: what a checkpoint restores besides weights --------------------------------------------------------

def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.integers(0, 2, size=n).astype(np.int64)


class Script(Callback):
    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_resuming_a_run_that_stopped_early_trains_no_further(tmp_path):
    """The checkpoint of the epoch where EarlyStopping stopped the run (a kill may come right after it is written):
    resuming from it must not train on, and must end with the same (restored best) weights."""
    x, y = data()
    values = [1.0, 0.5, 0.7, 0.8, 0.9, 0.95]  # best at e1, patience 2 -> stops at e3
    checkpoint = tmp_path / "ckpt.safetensors"

    def run(resume):
        gb.manual_seed(1 if resume else 0)
        model = nn.Linear(3, 2)
        stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
        history = fit(model, (x, y), epochs=6, batch_size=8, loss="cross_entropy",
                      optimizer=optim.SGD(model.parameters(), lr=0.1), callbacks=[Script(values), stopper],
                      checkpoint=None if resume else checkpoint, resume_from=checkpoint if resume else None,
                      verbose=0)
        return model, history

    model, history = run(resume=False)
    assert history.epoch == [0, 1, 2, 3]
    resumed, resumed_history = run(resume=True)
    assert resumed_history.epoch == [0, 1, 2, 3]
    for key, value in model.state_dict().items():
        assert np.array_equal(resumed.state_dict()[key].data, value.data), key


def test_csv_logger_continues_its_file_on_resume(tmp_path):
    x, y = data()
    log, checkpoint = tmp_path / "log.csv", tmp_path / "ckpt.safetensors"
    model = nn.Linear(3, 2)
    fit(model, (x, y), epochs=2, batch_size=8, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=0.1),
        callbacks=[CSVLogger(log)], checkpoint=checkpoint, verbose=0)
    model = nn.Linear(3, 2)
    history = fit(model, (x, y), epochs=4, batch_size=8, loss="cross_entropy",
                  optimizer=optim.SGD(model.parameters(), lr=0.1), callbacks=[CSVLogger(log)],
                  resume_from=checkpoint, verbose=0)
    lines = log.read_text().splitlines()
    assert lines[0].startswith("epoch,")
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2", "3"]
    assert history.epoch == [0, 1, 2, 3]
    assert [float(line.split(",")[lines[0].split(",").index("loss")]) for line in lines[1:]] == \
        history.history["loss"]


def test_resume_from_a_file_that_is_not_a_fit_checkpoint(tmp_path):
    x, y = data()
    model = nn.Linear(3, 2)
    weights = tmp_path / "weights.safetensors"
    gb.save(model.state_dict(), weights)
    with pytest.raises(gb.ModelFileError, match="not a glassbox checkpoint"):
        fit(model, (x, y), loss="cross_entropy", optimizer="sgd", resume_from=weights, verbose=0)
    other = tmp_path / "other.safetensors"
    gb.io.save_checkpoint(other, model_state=model.state_dict(), extra={"epoch": 3})
    with pytest.raises(ValueError, match="not a fit\\(\\) checkpoint"):
        fit(model, (x, y), loss="cross_entropy", optimizer="sgd", resume_from=other, verbose=0)
