"""Exploration schedules: epsilon (or any scalar) as a function of the environment step number."""

import math


class LinearSchedule:
    """Goes linearly from `start` (at step 0) to `end` (at step `duration`) and stays at `end` afterwards.

    `schedule(step)` returns a Python float; step is a non-negative int (the environment step).
    """

    def __init__(self, start, end, duration):
        if duration <= 0:
            raise ValueError(f"LinearSchedule: duration must be a positive number of steps, got {duration}")
        self.start, self.end, self.duration = float(start), float(end), int(duration)

    def __call__(self, step):
        _check_step(step, "LinearSchedule")
        fraction = min(step / self.duration, 1.0)
        return self.start + fraction * (self.end - self.start)

    def __repr__(self):
        return f"LinearSchedule(start={self.start}, end={self.end}, duration={self.duration})"


class ExponentialSchedule:
    """end + (start - end) * decay**step: starts at `start`, approaches `end` geometrically (0 < decay <= 1)."""

    def __init__(self, start, end, decay):
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"ExponentialSchedule: decay must be in (0, 1], got {decay}")
        self.start, self.end, self.decay = float(start), float(end), float(decay)

    def __call__(self, step):
        _check_step(step, "ExponentialSchedule")
        # exp(step * log(decay)) rather than decay**step: same value, and no overflow warning for huge steps.
        return self.end + (self.start - self.end) * math.exp(step * math.log(self.decay))

    def __repr__(self):
        return f"ExponentialSchedule(start={self.start}, end={self.end}, decay={self.decay})"


def _check_step(step, name):
    if step < 0:
        raise ValueError(f"{name}: step must be non-negative, got {step}")
