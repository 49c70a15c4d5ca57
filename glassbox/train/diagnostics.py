"""Training diagnostics: per-layer activation, gradient and update statistics and plain-language warnings."""

import json
import math
import os

import numpy as np

from ..io.atomic import atomic_write
from ..nn import activation as act
from ..tensor import Tensor
from .callbacks import Callback

# Activation modules whose outputs are worth watching; ReLU can die, sigmoid and tanh can saturate.
_ACTIVATIONS = (act.ReLU, act.LeakyReLU, act.ELU, act.SELU, act.GELU, act.SiLU, act.Sigmoid, act.Tanh, act.Softplus)
_STATS = ("mean", "std", "dead_fraction", "saturated_fraction")
KINDS = ("vanishing_gradients", "exploding_gradients", "dead_relus", "saturation", "lr_too_high", "overfitting",
         "loss_not_finite")


def dead_fraction(output):
    """Share of units whose output is zero (or below) for every example of the batch.

    output: (N, F) -> the F features are the units; (N, C, *spatial) -> the C channels are the units (a channel
    is dead when it is zero at every position of every example)."""
    y = np.asarray(output)
    if y.ndim < 2 or y.shape[0] == 0 or y.shape[1] == 0:
        return None
    alive = (y > 0).any(axis=tuple(i for i in range(y.ndim) if i != 1))  # (C,)
    return float(1.0 - alive.mean())


def saturated_fraction(output, kind):
    """Share of elements in the flat parts of a squashing function: sigmoid outputs < 0.01 or > 0.99 (kind
    'sigmoid'), tanh outputs with |y| > 0.99 (kind 'tanh'). output: any shape."""
    y = np.asarray(output)
    if y.size == 0:
        return None
    if kind == "sigmoid":
        return float(((y < 0.01) | (y > 0.99)).mean())
    if kind == "tanh":
        return float((np.abs(y) > 0.99).mean())
    raise ValueError(f"saturated_fraction: kind must be 'sigmoid' or 'tanh', got {kind!r}")


def activation_stats(module, output):
    """{'mean', 'std', 'dead_fraction', 'saturated_fraction'} of one module's output (any shape); the last two
    are None where they do not apply (dead units only after ReLU, saturation only after Sigmoid/Tanh)."""
    y = np.asarray(output, dtype=np.float64)
    stats = {"mean": float(y.mean()) if y.size else None, "std": float(y.std()) if y.size else None,
             "dead_fraction": None, "saturated_fraction": None}
    if type(module) is act.ReLU:
        stats["dead_fraction"] = dead_fraction(y)
    elif isinstance(module, act.Sigmoid):
        stats["saturated_fraction"] = saturated_fraction(y, "sigmoid")
    elif isinstance(module, act.Tanh):
        stats["saturated_fraction"] = saturated_fraction(y, "tanh")
    return stats


def _norm(arrays):
    """Euclidean norm of several arrays taken together (float64, so float32 squares do not overflow)."""
    return math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))


def _finite_or_none(value):
    return value if value is None or math.isfinite(value) else None


class Diagnostics(Callback):
    """Watch training from inside: per-layer statistics on sampled steps, warnings with evidence, diagnostics.json.

        fit(model, data, ..., callbacks=[Diagnostics("runs/mine")])

    Every `every` steps (default: about 20 samples per epoch) the next batch is sampled: forward hooks, installed
    for that batch only, record the output of every module with its own parameters and of every activation module
    (mean, std; for ReLU the dead fraction, for Sigmoid/Tanh the saturated fraction); after the step each
    parameterised layer's gradient norm ||grad|| and update-to-weight ratio ||w_after - w_before|| / ||w_before||
    (a healthy ratio is around 1e-3) are recorded. Layers are named as in model.named_modules().

    Warnings (each once per kind and layer; printed through trainer.log when verbose; kept in .warnings):
      dead_relus          a ReLU whose share of dead units is >= dead_threshold (0.5).
      saturation          a Sigmoid/Tanh with a share of saturated outputs >= saturation_threshold (0.5).
      vanishing_gradients the first layer's gradient norm < vanishing_ratio (1e-3) x the last layer's, or every
                          layer's norm < vanishing_norm (1e-8) while the loss is not yet near zero (> 1e-3).
      exploding_gradients a non-finite gradient, a layer's norm > exploding_norm (1e3), the first layer's norm
                          > exploding_ratio (1e3) x the last layer's, or a norm (>= 1) that grew exploding_growth
                          (100) times within the last `window` (5) samples.
      lr_too_high         a layer's update ratio > update_ratio_threshold (0.3) in `window_high` (3) samples in a
                          row, or the smoothed batch loss (EMA 0.9) rose above loss_rise (2) x its best and by more
                          than a tenth of its first value.
      overfitting         val_loss has not improved for overfit_epochs (3) epochs, is now more than overfit_rise
                          (1%) above its best, and the training loss has fallen by more than overfit_fall (2%)
                          since that best epoch (a model stuck at chance, whose training loss barely moves, is not
                          overfitting however its validation loss wanders).
      loss_not_finite     a batch loss that is NaN or infinite.
    Epochs in the JSON are 0-based; in the sentences they count from 1 like the progress lines.

    directory: when given, diagnostics.json is rewritten atomically at every epoch end, and diagnostics.png
    (needs matplotlib) is drawn at the end of training, on rank 0 only.
    """

    def __init__(self, directory=None, every=None, *, dead_threshold=0.5, saturation_threshold=0.5,
                 vanishing_ratio=1e-3, vanishing_norm=1e-8, exploding_norm=1e3, exploding_ratio=1e3,
                 exploding_growth=100.0, window=5, update_ratio_threshold=0.3, window_high=3, loss_rise=2.0,
                 overfit_epochs=3, overfit_rise=0.01, overfit_fall=0.02, verbose=True, plot=True):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"Diagnostics: every must be a positive int (steps between samples), got {every!r}")
        if overfit_epochs < 1 or window < 2 or window_high < 1:
            raise ValueError(f"Diagnostics: overfit_epochs and window_high must be >= 1 and window >= 2, got "
                             f"{overfit_epochs}, {window_high}, {window}")
        self.directory, self.requested_every, self.verbose, self.plot = directory, every, verbose, plot
        self.dead_threshold, self.saturation_threshold = dead_threshold, saturation_threshold
        self.vanishing_ratio, self.vanishing_norm = vanishing_ratio, vanishing_norm
        self.exploding_norm, self.exploding_ratio, self.exploding_growth = exploding_norm, exploding_ratio, \
            exploding_growth
        self.window, self.update_ratio_threshold, self.window_high = window, update_ratio_threshold, window_high
        self.loss_rise, self.overfit_epochs, self.overfit_rise = loss_rise, overfit_epochs, overfit_rise
        self.overfit_fall = overfit_fall
        self._handles, self._current, self._order, self._before = [], {}, [], None
        self.reset()

    # ----- state ---------------------------------------------------------------------------------------------------
    def reset(self):
        self.every = self.requested_every or 1
        self.step, self.steps, self.layers, self.warnings, self._raised = 0, [], {}, [], set()
        self._ema, self._ema_count, self._first_loss, self._best_loss = 0.0, 0, None, math.inf
        self._epochs = []  # (epoch, loss, val_loss) per finished epoch

    def state_dict(self):
        return {"every": self.every, "step": self.step, "steps": list(self.steps),
                "layers": json.loads(json.dumps(self.layers)), "warnings": [dict(w) for w in self.warnings],
                "raised": [[kind, layer] for kind, layer in sorted(self._raised, key=str)],
                "loss_ema": [self._ema, self._ema_count, self._first_loss, self._best_loss],
                "epochs": [list(e) for e in self._epochs]}

    def load_state_dict(self, state):
        self.every, self.step, self.steps = state["every"], state["step"], list(state["steps"])
        self.layers, self.warnings = state["layers"], [dict(w) for w in state["warnings"]]
        self._raised = {(kind, layer) for kind, layer in state["raised"]}
        self._ema, self._ema_count, self._first_loss, self._best_loss = state["loss_ema"]
        self._epochs = [tuple(e) for e in state["epochs"]]

    def to_dict(self):
        """The diagnostics.json document: {'layers': [...], 'steps': [...], 'warnings': [...]} (non-finite
        numbers become null)."""
        layers = []
        for name, record in self.layers.items():
            layers.append({"name": name, "type": record["type"],
                           "activation": {k: [_finite_or_none(v) for v in record["activation"][k]] for k in _STATS},
                           "grad_norm": [_finite_or_none(v) for v in record["grad_norm"]],
                           "update_ratio": [_finite_or_none(v) for v in record["update_ratio"]]})
        return {"layers": layers, "steps": list(self.steps), "warnings": [dict(w) for w in self.warnings]}

    # ----- hooks of the loop ---------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if not self.trainer.resuming:
            self.reset()
            self.every = self.requested_every or max(1, int(self.trainer.steps_per_epoch) // 20)
        self._watched = [(name, m) for name, m in self.model.named_modules()
                         if isinstance(m, _ACTIVATIONS) or any(True for _ in m.parameters(recurse=False))]
        for name, module in self._watched:
            self.layers.setdefault(name, {"type": type(module).__name__,
                                          "activation": {k: [None] * len(self.steps) for k in _STATS},
                                          "grad_norm": [None] * len(self.steps),
                                          "update_ratio": [None] * len(self.steps)})

    def on_train_batch_begin(self, batch, logs=None):
        if self.step % self.every:
            return  # not a sampled step: nothing installed, nothing copied
        self._current, self._order = {}, []
        for name, module in self._watched:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        self._before = {name: [p.data.copy() for p in m.parameters(recurse=False)] for name, m in self._watched}

    def _hook(self, name):
        def record(module, inputs, output):
            if name in self._current:  # a module called twice in one step (shared weights): its first call counts
                return None
            tensor = output if isinstance(output, Tensor) else next(
                (o for o in output if isinstance(o, Tensor)), None) if isinstance(output, (tuple, list)) else None
            if tensor is not None:
                self._current[name] = activation_stats(module, tensor.data)
                self._order.append(name)
            return None
        return record

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None:
            self._watch_loss(float(loss))
        if self._before is not None:
            for handle in self._handles:
                handle.remove()
            self._handles = []
            self._record_sample(float(loss) if loss is not None else None)
            self._before = None
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "loss" in logs:
            self._epochs.append((epoch, float(logs["loss"]),
                                 float(logs["val_loss"]) if logs.get("val_loss") is not None else None))
            self._check_overfitting()
        if self.directory is not None and self.trainer.is_main:
            self.save(self.directory, plot=False)

    def on_train_end(self, logs=None):
        for handle in self._handles:  # a step that raised may have left hooks behind
            handle.remove()
        self._handles = []
        if self.directory is not None and self.trainer.is_main:
            self.save(self.directory, plot=self.plot)

    # ----- recording -----------------------------------------------------------------------------------------------
    def _record_sample(self, loss):
        sample = {}
        for name, module in self._watched:
            record = self.layers[name]
            stats = self._current.get(name, dict.fromkeys(_STATS))
            for key in _STATS:
                record["activation"][key].append(stats[key])
            params = list(module.parameters(recurse=False))
            grads = [p.grad.data for p in params if p.grad is not None]
            grad_norm = _norm(grads) if grads else None
            before = self._before.get(name) or []
            update_ratio = None
            if before:
                weight = _norm(before)
                change = _norm([p.data.astype(np.float64) - b for p, b in zip(params, before)])
                update_ratio = change / weight if weight > 0 else None
            record["grad_norm"].append(grad_norm)
            record["update_ratio"].append(update_ratio)
            sample[name] = (stats, grad_norm, update_ratio)
        self.steps.append(self.step)
        self._check_sample(sample, loss)

    def _watch_loss(self, loss):
        if not math.isfinite(loss):
            self._warn("loss_not_finite", None, f"The training loss became {loss}: the numbers overflowed, so "
                       "training cannot recover. Lower the learning rate, clip gradients (clip_grad_norm_), or "
                       "look for a log of zero / division by zero in the loss.",
                       f"batch loss {loss} at step {self.step}")
            return
        self._ema = 0.9 * self._ema + 0.1 * loss
        self._ema_count += 1
        smoothed = self._ema / (1 - 0.9 ** self._ema_count)  # bias-corrected, so early steps are not pulled to 0
        if self._first_loss is None:
            self._first_loss = smoothed
        if self._ema_count >= 5 and smoothed > self.loss_rise * self._best_loss and \
                smoothed - self._best_loss > 0.1 * abs(self._first_loss):
            self._warn("lr_too_high", None, "The training loss is going up instead of down: the steps overshoot "
                       "the minimum. Lower the learning rate (try 3-10x smaller, or run find_lr).",
                       f"smoothed batch loss {smoothed:.4g} at step {self.step}, more than {self.loss_rise:g}x its "
                       f"best {self._best_loss:.4g} (started at {self._first_loss:.4g})")
        if self._ema_count >= 5:  # the first few smoothed values are too noisy to be a 'best'
            self._best_loss = min(self._best_loss, smoothed)

    # ----- the checks ----------------------------------------------------------------------------------------------
    def _check_sample(self, sample, loss):
        step = self.step
        for name, (stats, grad_norm, _ratio) in sample.items():
            kind = self.layers[name]["type"]
            dead = stats["dead_fraction"]
            if dead is not None and dead >= self.dead_threshold:
                self._warn("dead_relus", name, f"{dead:.0%} of the units of {kind} '{name}'{self._after(name)} "
                           "output zero for every example: dead ReLUs pass no gradient and never learn again. Lower "
                           "the learning rate, check the initialisation and biases, or use LeakyReLU.",
                           f"dead fraction {dead:.3f} at step {step} (threshold {self.dead_threshold:g})", step)
            saturated = stats["saturated_fraction"]
            if saturated is not None and saturated >= self.saturation_threshold:
                self._warn("saturation", name, f"{saturated:.0%} of the outputs of {kind} '{name}'"
                           f"{self._after(name)} sit in its flat ends, where the gradient is almost zero. Use "
                           "smaller initial weights, normalise the inputs, add BatchNorm, or use ReLU.",
                           f"saturated fraction {saturated:.3f} at step {step} (threshold "
                           f"{self.saturation_threshold:g})", step)
            if grad_norm is not None and not math.isfinite(grad_norm):
                self._warn("exploding_gradients", name, f"The gradient of {kind} '{name}' is not finite. Lower the "
                           "learning rate or clip gradients.", f"gradient norm {grad_norm} at step {step}", step)
            elif grad_norm is not None and grad_norm > self.exploding_norm:
                self._warn("exploding_gradients", name, f"The gradient of {kind} '{name}' is huge, so each step "
                           "throws the weights far away. Clip gradients (clip_grad_norm_), lower the learning rate, "
                           "use a smaller initialisation or add normalisation layers.",
                           f"gradient norm {grad_norm:.4g} at step {step} (threshold {self.exploding_norm:g})", step)
            self._check_growth(name, kind, step)
            self._check_update_ratio(name, kind, step)
        self._check_depth(sample, loss, step)

    def _after(self, name):
        """' (after Linear 'net.0')': the parameterised layer called just before this activation, if any."""
        if name not in self._order:
            return ""
        for previous in reversed(self._order[:self._order.index(name)]):
            if self.layers[previous]["type"] not in {cls.__name__ for cls in _ACTIVATIONS}:
                return f" (after {self.layers[previous]['type']} '{previous}')"
        return ""

    def _check_growth(self, name, kind, step):
        norms = [n for n in self.layers[name]["grad_norm"][-self.window:] if n is not None and math.isfinite(n)]
        if len(norms) < 2 or norms[-1] < 1.0:
            return
        smallest = min(norms[:-1])
        if smallest > 0 and norms[-1] / smallest >= self.exploding_growth:
            self._warn("exploding_gradients", name, f"The gradient of {kind} '{name}' is growing fast from one "
                       "sample to the next: training is heading for a blow-up. Lower the learning rate or clip "
                       "gradients.", f"gradient norm grew from {smallest:.4g} to {norms[-1]:.4g} within the last "
                       f"{len(norms)} samples (step {step})", step)

    def _check_update_ratio(self, name, kind, step):
        ratios = self.layers[name]["update_ratio"][-self.window_high:]
        if len(ratios) < self.window_high or any(r is None for r in ratios):
            return
        if all(not math.isfinite(r) or r > self.update_ratio_threshold for r in ratios):
            self._warn("lr_too_high", name, f"Each step changes the weights of {kind} '{name}' by a large share of "
                       "their size (about 0.001 is healthy): the learning rate is too high for this layer. Lower "
                       "it, or run find_lr.", "update/weight ratio " + ", ".join(f"{r:.3g}" for r in ratios) +
                       f" in the last {len(ratios)} samples up to step {step} (threshold "
                       f"{self.update_ratio_threshold:g})", step)

    def _check_depth(self, sample, loss, step):
        """Compare the first and the last parameterised layer (in the order the forward pass called them)."""
        layered = [(n, sample[n][1]) for n in self._order if sample[n][1] is not None and
                   math.isfinite(sample[n][1])]
        if len(layered) < 2:
            return
        (first, g_first), (last, g_last) = layered[0], layered[-1]
        largest = max(g for _, g in layered)
        if any(stats["dead_fraction"] == 1.0 for stats, _, _ in sample.values()):
            return  # a wholly dead ReLU blocks every gradient below it: the dead_relus warning already says so
        evidence = f"gradient norm of '{first}' {g_first:.3g}, of '{last}' {g_last:.3g} at step {step}"
        if g_last > 0 and g_first < self.vanishing_ratio * g_last:
            self._warn("vanishing_gradients", first, f"The gradient reaching the first layer '{first}' is many "
                       f"orders of magnitude smaller than at the last layer '{last}': the early layers barely "
                       "learn. Use ReLU instead of sigmoid/tanh, a better initialisation (kaiming/xavier), "
                       "normalisation layers or residual connections.",
                       f"{evidence} (ratio {g_first / g_last:.3g} < {self.vanishing_ratio:g})", step)
        elif largest < self.vanishing_norm and (loss is None or loss > 1e-3):
            self._warn("vanishing_gradients", None, "Every layer's gradient is almost zero although the loss is "
                       "not: the network has stopped learning. Check the initialisation and the activations.",
                       f"largest gradient norm {largest:.3g} at step {step} with loss {loss}", step)
        if g_last > 0 and g_first > self.exploding_ratio * g_last:
            self._warn("exploding_gradients", first, f"The gradient grows on its way back from '{last}' to the "
                       f"first layer '{first}': it is exploding through depth. Use a smaller initialisation, "
                       "normalisation layers or gradient clipping.",
                       f"{evidence} (ratio {g_first / g_last:.3g} > {self.exploding_ratio:g})", step)

    def _check_overfitting(self):
        history = [(e, loss, val) for e, loss, val in self._epochs if val is not None and math.isfinite(val)]
        if len(history) <= self.overfit_epochs:
            return
        best = min(range(len(history)), key=lambda i: history[i][2])
        epoch, loss, val = history[-1]
        best_epoch, best_loss, best_val = history[best]
        if len(history) - 1 - best >= self.overfit_epochs and val > best_val * (1 + self.overfit_rise) and \
                loss < best_loss * (1 - self.overfit_fall):
            self._warn("overfitting", None, f"Validation loss has been rising since epoch {best_epoch + 1} while the "
                       "training loss keeps falling: the model is memorising the training data. Stop earlier "
                       "(EarlyStopping(restore_best_weights=True)), get more data or augment it, add weight decay or "
                       "dropout, or use a smaller model.",
                       f"val_loss {best_val:.4g} at epoch {best_epoch + 1} -> {val:.4g} at epoch {epoch + 1}; "
                       f"training loss {best_loss:.4g} -> {loss:.4g}", self.step, epoch)

    def _warn(self, kind, layer, message, evidence, step=None, epoch=None):
        if (kind, layer) in self._raised:
            return
        self._raised.add((kind, layer))
        warning = {"kind": kind, "message": message, "evidence": evidence,
                   "epoch": self.trainer.epoch if epoch is None else epoch,
                   "step": self.step if step is None else step, "layer": layer}
        self.warnings.append(warning)
        if self.verbose:  # the advice once per kind; further layers with the same problem get one short line
            if any(w["kind"] == kind for w in self.warnings[:-1]):
                where = f"layer '{layer}'" if layer is not None else "the whole model"
                self.trainer.log(f"Diagnostics [{kind}] also {where}: {evidence}.")
            else:
                self.trainer.log(f"Diagnostics [{kind}] {message} Evidence: {evidence}.")

    # ----- output --------------------------------------------------------------------------------------------------
    def save(self, directory, plot=True):
        """Write diagnostics.json (atomically) into `directory`, and diagnostics.png when plot and matplotlib is
        installed; returns the JSON path."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "diagnostics.json")
        with atomic_write(path) as tmp, open(tmp, "w") as handle:
            json.dump(self.to_dict(), handle, allow_nan=False)
        if plot and self.steps:
            try:
                with atomic_write(os.path.join(directory, "diagnostics.png")) as tmp:
                    plot_diagnostics(self.to_dict(), tmp)
            except ImportError:
                pass  # matplotlib is an optional extra; the JSON has everything
        return path


def plot_diagnostics(document, path):
    """Three panels over the sampled steps: per-layer gradient norms, update/weight ratios (with 1e-3 marked) and
    dead/saturated fractions; `document` is a diagnostics.json dict."""
    from .plots import _pyplot

    plt = _pyplot()
    steps = np.asarray(document["steps"], dtype=float)
    figure, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    panels = [(axes[0], "grad_norm", "gradient norm", True), (axes[1], "update_ratio", "update / weight", True)]
    for axis, key, title, log in panels:
        for layer in document["layers"]:
            values = np.array([np.nan if v is None else v for v in layer[key]], dtype=float)
            if np.isfinite(values).any():
                axis.plot(steps, values, label=layer["name"], linewidth=1.2)
        if log:
            axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[1].axhline(1e-3, color="gray", linestyle="--", linewidth=1, label="1e-3 (healthy)")
    for layer in document["layers"]:
        for key, style in (("dead_fraction", "-"), ("saturated_fraction", ":")):
            values = np.array([np.nan if v is None else v for v in layer["activation"][key]], dtype=float)
            if np.isfinite(values).any():
                axes[2].plot(steps, values, style, label=f"{layer['name']} {key.split('_')[0]}", linewidth=1.2)
    axes[2].set_ylim(-0.02, 1.02)
    axes[2].set_title("dead (ReLU) / saturated (sigmoid, tanh) share")
    axes[2].set_xlabel("step")
    axes[2].grid(alpha=0.3)
    for axis in axes:
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110, format="png")
    plt.close(figure)
