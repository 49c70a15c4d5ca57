"""Fused recurrent sequences: one layer, one direction of an Elman RNN, an LSTM or a GRU over all time steps.

Fused because a graph of per-step ops would record ~10 nodes per time step and run ~30 small NumPy calls more per
step in backward. Here, as the speed rules ask:
  - all time steps' input projections x_t @ W_ih^T are one GEMM before the loop;
  - each step is one GEMM h_{t-1} @ W_hh^T for all gates at once, then in-place elementwise work on preallocated
    (T, B, gates*H) arrays, which are also what backward reads (nothing else is saved);
  - backward through time is a hand-written loop (one GEMM per step for dL/dh_{t-1}), and the weight gradients
    are three GEMMs over all steps after it.

Layouts: x (T, B, I) time-major, states (B, H), weights and biases in PyTorch's layout and gate order
(LSTM: i, f, g, o; GRU: r, z, n). The result is one array Y (T + 1, B, H) -- (T + 2, B, H) for the LSTM -- holding
the outputs Y[:T], the final hidden state Y[T] and the final cell state Y[T + 1]; the layers slice it (the engine
has one output per op; slices are views, and their gradients meet again in Y's gradient).

Variable lengths (`lengths`, one per batch element): the batch is sorted by decreasing length inside the op, so at
every time step the sequences still running are a prefix of the batch. A step updates only that prefix; the others
carry their state unchanged (so the final state of each sequence is its state after its own last element), and
their outputs are zero -- as PyTorch's packed sequences give. Reversed direction with lengths starts each sequence
at its own last element, from the initial state.
"""

import numpy as np

from ..autograd.function import Function


def _sigmoid_from_half_(a):
    """a <- sigmoid(2a), in place: sigmoid(x) = 1/2 + tanh(x/2)/2, which never overflows (unlike 1 / (1 + e^-x)).
    The loops keep the halving in the weights (see _Recurrence._forward_weights): one NumPy call less per step."""
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


class _Recurrence(Function):
    """What every recurrence shares: the time schedule, the sorted batch, the input projection and the weight
    gradients. Subclasses allocate what their loop keeps (`_allocate`) and run the loop forward (`_run`) and
    backward (`_run_backward`)."""

    has_cell = False
    save_output = True  # the outputs are the saved hidden states: an in-place change to them must be caught

    def forward(self, x, h0, *rest, reverse=False, lengths=None, nonlinearity="tanh"):
        if self.has_cell:
            c0, w_ih, w_hh, *biases = rest
        else:
            c0, (w_ih, w_hh, *biases) = None, rest
        steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        self.reverse, self.nonlinearity, self.has_bias = reverse, nonlinearity, bool(biases)
        self.dtype = np.result_type(x, w_ih)
        self.order, self.active = _schedule(lengths, steps, batch)
        if self.order is not None:  # sort by decreasing length: running sequences are a prefix at every step
            x, h0 = x[:, self.order], h0[self.order]
            c0 = None if c0 is None else c0[self.order]
        self.x = np.ascontiguousarray(x, dtype=self.dtype)
        self.h0 = np.asarray(h0, dtype=self.dtype)
        self.c0 = None if c0 is None else np.asarray(c0, dtype=self.dtype)
        self.w_ih, self.w_hh = self._gate_rows(w_ih), self._gate_rows(w_hh)
        self.b_ih, self.b_hh = (self._gate_rows(b) for b in biases) if biases else (None, None)
        y = np.empty((steps + (2 if self.has_cell else 1), batch, hidden), dtype=self.dtype)
        self.states = y[:steps]  # states[t]: the hidden state after step t (carried for finished sequences)
        self._allocate(steps, batch, hidden)
        w_ih, input_bias, w_hh, self.b_hh_forward = self._forward_weights(hidden)
        xp = self._project(w_ih, input_bias)
        w_hh_t = np.ascontiguousarray(w_hh.T)  # BLAS multiplies by a contiguous (H, G*H) ~1.5x faster
        self._run(xp, w_hh_t)
        last = 0 if reverse else steps - 1
        y[steps] = self.states[last]
        if self.has_cell:
            y[steps + 1] = self.cells[last]
        if self.order is not None:
            # outputs of finished sequences are zero; the states stay as they are for backward
            self.states = self.states.copy()
            for t in range(steps):
                y[t, self.active[t]:] = 0
            y = y[:, np.argsort(self.order)]
        return y

    def _gate_rows(self, array):
        """Weights and biases in the order the loop uses (only the LSTM reorders)."""
        return array

    def _gate_rows_back(self, array):
        """Gradients back in PyTorch's gate order (inverse of _gate_rows)."""
        return array

    sigmoid_gates = 0  # how many leading gates (in the loop's order) go through a sigmoid

    def _forward_weights(self, hidden):
        """(w_ih, input bias, w_hh, b_hh) as the forward loop uses them: the rows of sigmoid gates halved, so that
        each sigmoid is a tanh and an affine map (_sigmoid_from_half_). Backward uses the true weights."""
        w_ih, bias, w_hh, b_hh = self.w_ih, self._input_bias(), self.w_hh, self.b_hh
        if not self.sigmoid_gates:
            return w_ih, bias, w_hh, b_hh
        scale = np.ones(w_hh.shape[0], dtype=self.dtype)
        scale[:self.sigmoid_gates * hidden] = 0.5
        bias = None if bias is None else bias * scale
        b_hh = None if b_hh is None else b_hh * scale
        return w_ih * scale[:, None], bias, w_hh * scale[:, None], b_hh

    def _project(self, w_ih, bias):
        """All steps' input projections in one GEMM: x (T, B, I) -> (T, B, G*H), plus the bias."""
        steps, batch, inputs = self.x.shape
        xp = np.matmul(self.x.reshape(steps * batch, inputs), w_ih.T).reshape(steps, batch, -1)
        if bias is not None:
            xp += bias
        return xp

    def _input_bias(self):
        return None if self.b_ih is None else self.b_ih + self.b_hh

    def _steps(self):
        """(t, n) for the steps in the order they run: time t, and the rows row < n still running (rows n and
        after have finished and carry their state)."""
        steps = self.x.shape[0]
        times = range(steps - 1, -1, -1) if self.reverse else range(steps)
        return [(t, self.active[t]) for t in times]

    def _previous(self, t, states, initial):
        """The state before step t, (B, H): the initial state, or `states` at the step that ran before t."""
        steps = states.shape[0]
        if self.reverse:
            return initial if t == steps - 1 else states[t + 1]
        return initial if t == 0 else states[t - 1]

    def backward(self, grad):
        steps, batch, _ = self.x.shape
        if self.order is not None:
            grad = grad[:, self.order]
        grad = np.asarray(grad, dtype=self.dtype)
        # d_pre[t]: dL/d(pre-activations of step t) that come from the input projection, (T, B, G*H);
        # d_hidden_pre[t]: those that come from h_{t-1} @ W_hh^T (the same array except for the GRU).
        # Every row of every step is written when all sequences run to the end; with lengths, the rows of finished
        # sequences stay zero (they add nothing to the weight gradients).
        allocate = np.empty if self.order is None else np.zeros
        d_pre = allocate((steps, batch, self.w_hh.shape[0]), dtype=self.dtype)
        d_hidden_pre = allocate(d_pre.shape, dtype=self.dtype) if self.separate_hidden_grad else d_pre
        dh = grad[steps].copy()  # dL/d(state), from the final state's gradient back to the initial state's
        dc = grad[steps + 1].copy() if self.has_cell else None
        self._run_backward(grad, d_pre, d_hidden_pre, dh, dc)
        flat = d_pre.reshape(steps * batch, -1)
        hidden_flat = d_hidden_pre.reshape(steps * batch, -1)
        needs = self.needs_input_grad
        first = 3 if self.has_cell else 2  # index of w_ih among the inputs
        dx = np.matmul(flat, self.w_ih).reshape(self.x.shape) if needs[0] else None
        dw_ih = self._gate_rows_back(flat.T @ self.x.reshape(steps * batch, -1)) if needs[first] else None
        dw_hh = self._gate_rows_back(self._hidden_weight_grad(d_hidden_pre)) if needs[first + 1] else None
        grads = [dx, dh] + ([dc] if self.has_cell else []) + [dw_ih, dw_hh]
        if self.has_bias:
            d_b_ih = self._gate_rows_back(flat.sum(axis=0))
            grads += [d_b_ih, self._gate_rows_back(hidden_flat.sum(axis=0)) if self.separate_hidden_grad else d_b_ih]
        if self.order is not None:
            inverse = np.argsort(self.order)
            grads[0] = None if dx is None else dx[:, inverse]
            grads[1] = dh[inverse]
            if self.has_cell:
                grads[2] = dc[inverse]
        return tuple(grads)

    separate_hidden_grad = False

    def _hidden_weight_grad(self, d_hidden_pre):
        """dL/dW_hh = sum_t d_hidden_pre[t]^T @ h_{t-1}: two GEMMs (the steps that start from h0, and the rest)."""
        steps, batch, hidden = self.states.shape
        if self.reverse:
            rest, later, first = d_hidden_pre[:-1], self.states[1:], d_hidden_pre[-1]
        else:
            rest, later, first = d_hidden_pre[1:], self.states[:-1], d_hidden_pre[0]
        grad = first.T @ self.h0
        if steps > 1:
            grad += rest.reshape((steps - 1) * batch, -1).T @ later.reshape((steps - 1) * batch, hidden)
        return grad


def _schedule(lengths, steps, batch):
    """(order, active): the batch order that sorts lengths decreasingly (None when every sequence fills all
    `steps`), and active[t], how many sequences (a prefix of that order) are still running at time t."""
    if lengths is None:
        return None, [batch] * steps
    lengths = np.asarray(lengths, dtype=np.int64)
    if np.all(lengths == steps):
        return None, [batch] * steps
    order = np.argsort(-lengths, kind="stable")
    active = [int(n) for n in (lengths[:, None] > np.arange(steps)).sum(axis=0)]
    return order, active


class RNNSequence(_Recurrence):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    inputs: x (T, B, I), h0 (B, H), w_ih (H, I), w_hh (H, H)[, b_ih (H,), b_hh (H,)] -> Y (T + 1, B, H).
    """

    def _allocate(self, steps, batch, hidden):
        pass  # the states are all the loop keeps

    def _run(self, xp, w_hh_t):
        relu = self.nonlinearity == "relu"
        for t, n in self._steps():
            h_prev, h = self._previous(t, self.states, self.h0), self.states[t]
            a = h[:n]
            np.matmul(h_prev[:n], w_hh_t, out=a)
            a += xp[t, :n]
            if relu:
                np.maximum(a, 0, out=a)
            else:
                np.tanh(a, out=a)
            h[n:] = h_prev[n:]

    def _run_backward(self, grad, d_pre, d_hidden_pre, dh, dc):
        relu = self.nonlinearity == "relu"
        for t, n in reversed(self._steps()):
            dh_n = dh[:n]
            dh_n += grad[t, :n]
            h, da = self.states[t, :n], d_pre[t, :n]
            if relu:  # d relu(a)/da = 1 where the output is positive
                np.multiply(dh_n, h > 0, out=da)
            else:  # d tanh(a)/da = 1 - tanh(a)^2
                np.multiply(h, h, out=da)
                np.subtract(1, da, out=da)
                da *= dh_n
            np.matmul(da, self.w_hh, out=dh_n)  # dL/dh_{t-1} = da @ W_hh


class LSTMSequence(_Recurrence):
    """i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh (4H, in that
    order); c_t = f c_{t-1} + i g; h_t = o tanh(c_t).

    inputs: x (T, B, I), h0 (B, H), c0 (B, H), w_ih (4H, I), w_hh (4H, H)[, b_ih (4H,), b_hh (4H,)]
    -> Y (T + 2, B, H): outputs, h_n, c_n. The loop keeps the gates as i, f, o, g so that the three sigmoids are one
    contiguous block.
    """

    has_cell = True
    sigmoid_gates = 3

    def _gate_rows(self, array):
        i, f, g, o = np.split(array, 4)
        return np.concatenate([i, f, o, g])

    def _gate_rows_back(self, array):
        i, f, o, g = np.split(array, 4)
        return np.concatenate([i, f, g, o])

    def _allocate(self, steps, batch, hidden):
        self.gates = np.empty((steps, batch, 4 * hidden), dtype=self.dtype)  # activated i, f, o, g per step
        self.cells = np.empty((steps, batch, hidden), dtype=self.dtype)  # c_t
        self.tanh_cells = np.empty((steps, batch, hidden), dtype=self.dtype)  # tanh(c_t)

    def _run(self, xp, w_hh_t):
        hidden = self.states.shape[2]
        product = np.empty((self.x.shape[1], hidden), dtype=self.dtype)
        for t, n in self._steps():
            h_prev, c_prev = self._previous(t, self.states, self.h0), self._previous(t, self.cells, self.c0)
            gate = self.gates[t, :n]
            np.matmul(h_prev[:n], w_hh_t, out=gate)
            gate += xp[t, :n]
            np.tanh(gate, out=gate)  # g, and the sigmoids' tanh(a/2) (their rows are halved)
            sig = gate[:, :3 * hidden]
            sig *= 0.5
            sig += 0.5
            i, f, o, g = (gate[:, k * hidden:(k + 1) * hidden] for k in range(4))
            c, tanh_c = self.cells[t, :n], self.tanh_cells[t, :n]
            np.multiply(f, c_prev[:n], out=c)
            np.multiply(i, g, out=product[:n])
            c += product[:n]
            np.tanh(c, out=tanh_c)
            np.multiply(o, tanh_c, out=self.states[t, :n])
            self.states[t, n:] = h_prev[n:]
            self.cells[t, n:] = c_prev[n:]

    def _run_backward(self, grad, d_pre, d_hidden_pre, dh, dc):
        hidden = self.states.shape[2]
        scratch = np.empty((self.x.shape[1], hidden), dtype=self.dtype)
        slope_scratch = np.empty((self.x.shape[1], 4 * hidden), dtype=self.dtype)
        for t, n in reversed(self._steps()):
            dh_n, dc_n, tmp = dh[:n], dc[:n], scratch[:n]
            dh_n += grad[t, :n]
            gate, tanh_c = self.gates[t, :n], self.tanh_cells[t, :n]
            i, f, o, g = (gate[:, k * hidden:(k + 1) * hidden] for k in range(4))
            d_gate = d_pre[t, :n]
            di, df, do, dg = (d_gate[:, k * hidden:(k + 1) * hidden] for k in range(4))
            # h = o tanh(c):  dL/do = dh tanh(c);  dL/dc += dh o (1 - tanh(c)^2)
            np.multiply(dh_n, tanh_c, out=do)
            np.multiply(tanh_c, tanh_c, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh_n
            dc_n += tmp
            # c = f c_prev + i g:  dL/di = dc g, dL/dg = dc i, dL/df = dc c_prev, dL/dc_prev = dc f
            np.multiply(dc_n, g, out=di)
            np.multiply(dc_n, i, out=dg)
            np.multiply(dc_n, self._previous(t, self.cells, self.c0)[:n], out=df)
            dc_n *= f
            # through the activations: sigmoid' = s - s^2 for i, f, o; tanh' = 1 - g^2 for g (one pass for all four)
            slope = slope_scratch[:n]
            np.multiply(gate, gate, out=slope)
            np.subtract(gate[:, :3 * hidden], slope[:, :3 * hidden], out=slope[:, :3 * hidden])
            np.subtract(1, slope[:, 3 * hidden:], out=slope[:, 3 * hidden:])
            d_gate *= slope
            np.matmul(d_gate, self.w_hh, out=dh_n)  # dL/dh_{t-1} = d_pre @ W_hh


class GRUSequence(_Recurrence):
    """r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr), z likewise, n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),
    h_t = (1 - z) n + z h_{t-1}  (PyTorch's formulation: the reset gate multiplies the hidden projection).

    inputs: x (T, B, I), h0 (B, H), w_ih (3H, I), w_hh (3H, H)[, b_ih (3H,), b_hh (3H,)] -> Y (T + 1, B, H).
    """

    separate_hidden_grad = True  # r multiplies the hidden projection of n: its gradient differs from the input's
    sigmoid_gates = 2

    def _input_bias(self):
        return self.b_ih  # b_hh stays inside the step: b_hn is multiplied by r

    def _allocate(self, steps, batch, hidden):
        self.gates = np.empty((steps, batch, 3 * hidden), dtype=self.dtype)  # activated r, z, n
        # h_{t-1} W_hh^T + b_hh (the r and z parts halved, see _forward_weights; backward reads only the n part)
        self.hidden_pre = np.empty((steps, batch, 3 * hidden), dtype=self.dtype)

    def _run(self, xp, w_hh_t):
        hidden = self.states.shape[2]
        for t, n in self._steps():
            h_prev, h = self._previous(t, self.states, self.h0), self.states[t, :n]
            hp, gate = self.hidden_pre[t, :n], self.gates[t, :n]
            np.matmul(h_prev[:n], w_hh_t, out=hp)
            if self.b_hh_forward is not None:
                hp += self.b_hh_forward
            rz, new = gate[:, :2 * hidden], gate[:, 2 * hidden:]
            np.add(xp[t, :n, :2 * hidden], hp[:, :2 * hidden], out=rz)
            _sigmoid_from_half_(rz)
            np.multiply(rz[:, :hidden], hp[:, 2 * hidden:], out=new)
            new += xp[t, :n, 2 * hidden:]
            np.tanh(new, out=new)
            # h = n + z (h_prev - n)
            np.subtract(h_prev[:n], new, out=h)
            h *= rz[:, hidden:]
            h += new
            self.states[t, n:] = h_prev[n:]

    def _run_backward(self, grad, d_pre, d_hidden_pre, dh, dc):
        hidden = self.states.shape[2]
        scratch = np.empty((self.x.shape[1], hidden), dtype=self.dtype)
        through = np.empty((self.x.shape[1], hidden), dtype=self.dtype)
        for t, n in reversed(self._steps()):
            dh_n, tmp, thr = dh[:n], scratch[:n], through[:n]
            dh_n += grad[t, :n]
            gate, hp = self.gates[t, :n], self.hidden_pre[t, :n]
            r, z, new = gate[:, :hidden], gate[:, hidden:2 * hidden], gate[:, 2 * hidden:]
            d_gate, d_hidden = d_pre[t, :n], d_hidden_pre[t, :n]
            dr, dz, dn = d_gate[:, :hidden], d_gate[:, hidden:2 * hidden], d_gate[:, 2 * hidden:]
            # h = (1 - z) n + z h_prev:  dL/dn = dh (1 - z), through tanh: * (1 - n^2)
            np.subtract(1, z, out=tmp)
            np.multiply(dh_n, tmp, out=dn)
            np.multiply(new, new, out=thr)
            np.subtract(1, thr, out=thr)
            dn *= thr
            # dL/dz = dh (h_prev - n), through sigmoid: * z (1 - z)
            np.subtract(self._previous(t, self.states, self.h0)[:n], new, out=dz)
            dz *= dh_n
            tmp *= z
            dz *= tmp
            # n's pre-activation = xn + r hn:  dL/dhn = dn r;  dL/dr = dn hn, through sigmoid: * r (1 - r)
            np.multiply(dn, r, out=d_hidden[:, 2 * hidden:])
            np.multiply(dn, hp[:, 2 * hidden:], out=dr)
            np.subtract(1, r, out=tmp)
            tmp *= r
            dr *= tmp
            d_hidden[:, :2 * hidden] = d_gate[:, :2 * hidden]
            # dL/dh_{t-1} = dh z + d_hidden @ W_hh
            np.matmul(d_hidden, self.w_hh, out=thr)
            dh_n *= z
            dh_n += thr
