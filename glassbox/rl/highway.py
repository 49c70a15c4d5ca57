"""HighwayEnv: a small multi-lane highway-driving environment with the Gymnasium API, in the spirit of DeepTraffic.

The road
    `lanes` parallel lanes (lane 0 is the leftmost) on a ring road `length` metres long, so traffic never runs
    out. The ego car and `round(traffic_density * length / 100)` other cars per lane drive on it. Cars are
    `CAR_LENGTH` metres long; a position is the centre of a car. One step lasts `dt` seconds.

The ego car's five actions (`HighwayEnv.ACTIONS`)
    0 keep        keep lane and speed
    1 left        move to lane - 1 (instantaneous); at the leftmost lane this is a no-op and costs nothing
    2 right       move to lane + 1; at the rightmost lane this is a no-op and costs nothing
    3 accelerate  speed += `accel` (clipped to `max_speed`)
    4 brake       speed -= `brake` (clipped to 0)

The other cars
    Each keeps its lane and has its own desired speed (uniform in `traffic_speed`). Every step it speeds up by
    `TRAFFIC_ACCEL` towards that desired speed, but never faster than `(gap - MIN_GAP) / dt`, where `gap` is the
    bumper-to-bumper gap to the next car ahead in its lane (the ego car counts). That rule assumes the car ahead
    could stop dead, so the other cars never hit anything: every crash is the ego driver's doing.

Crash and end of an episode
    The ego car crashes when, at any time during the step, it overlaps a car in its (new) lane: it drove into a
    car ahead, or changed lane into a car beside it. Motion within a step is linear, so the test is exact even
    when the ego car is fast enough to pass through a car in one step. A crash gives reward `crash_penalty` and
    `terminated=True`. After `max_steps` steps without a crash, `truncated=True`.

Reward per step
    `speed / max_speed` (in [0, 1]: driving fast is progress) minus `lane_change_cost` when the lane actually
    changed; a crash step gives only `crash_penalty`.

Observation: float32 vector of size `lanes + 13`, every entry in [-1, 1]
    [0 : lanes]        one-hot of the ego lane
    [lanes]            ego speed / max_speed                                                         in [0, 1]
    [lanes+1 : +13]    for the lanes (left, current, right), four numbers each:
                       gap ahead, relative speed ahead, gap behind, relative speed behind.
                       A gap is the bumper-to-bumper distance / `sensor_range`, clipped to [0, 1] (1: no car in
                       range); a relative speed is (other speed - ego speed) / max_speed, clipped to [-1, 1] (0 when
                       no car is in range). A lane that does not exist reads gap 0 (blocked), relative speed 0.

Usage::

    env = HighwayEnv(lanes=3, seed=0)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(heuristic_action(obs))
    frame = env.render()                      # (H, W, 3) uint8
    gym_env = to_gymnasium(env)               # a real gymnasium.Env (needs gymnasium)
"""

import numpy as np

from .evaluation import evaluate

CAR_LENGTH = 5.0  # metres
MIN_GAP = 2.0  # metres the other cars keep to the car ahead
TRAFFIC_ACCEL = 1.0  # m/s gained per step by the other cars
CLEAR_ZONE = 20.0  # metres around the ego car kept free of traffic at reset, in every lane

KEEP, LEFT, RIGHT, ACCELERATE, BRAKE = range(5)
N_SIDE_FEATURES = 12  # 3 lanes x (gap ahead, rel speed ahead, gap behind, rel speed behind)

_INSTALL_HINT = "HighwayEnv.to_gymnasium needs gymnasium: pip install 'glassbox[rl]' (or pip install gymnasium)"


# ---------------------------------------------------------------------------------------------------------- spaces
class DiscreteSpace:
    """Stand-in for gymnasium.spaces.Discrete(n) when gymnasium is absent: the actions 0 .. n-1."""

    def __init__(self, n):
        self.n = int(n)
        self.shape = ()
        self.dtype = np.int64
        self.np_random = np.random.default_rng()

    def seed(self, seed=None):
        """Reseed the space's own generator (used by sample() without rng), like gymnasium's Space.seed."""
        self.np_random = np.random.default_rng(seed)
        return [seed]

    def sample(self, rng=None):
        """A uniformly random action, drawn from the NumPy Generator `rng` (the space's own when None)."""
        return int((self.np_random if rng is None else rng).integers(self.n))

    def contains(self, x):
        """Whether x is an integer action in [0, n)."""
        if isinstance(x, np.ndarray):
            if x.shape != ():
                return False
            x = x.item()
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 0 <= int(x) < self.n

    __contains__ = contains

    def __repr__(self):
        return f"DiscreteSpace({self.n})"


class BoxSpace:
    """Stand-in for gymnasium.spaces.Box(low, high, shape, dtype) when gymnasium is absent."""

    def __init__(self, low, high, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.low = np.asarray(low, dtype=self.dtype)
        self.high = np.asarray(high, dtype=self.dtype)
        self.shape = self.low.shape
        self.np_random = np.random.default_rng()

    def seed(self, seed=None):
        """Reseed the space's own generator (used by sample() without rng)."""
        self.np_random = np.random.default_rng(seed)
        return [seed]

    def sample(self, rng=None):
        """A uniformly random point of the box, drawn from the NumPy Generator `rng` (the space's own when None)."""
        return (self.np_random if rng is None else rng).uniform(self.low, self.high).astype(self.dtype)

    def contains(self, x):
        """Whether x has the box's shape and dtype and lies inside [low, high]."""
        x = np.asarray(x)
        return (x.shape == self.shape and x.dtype == self.dtype
                and bool(np.all(x >= self.low)) and bool(np.all(x <= self.high)))

    __contains__ = contains

    def __repr__(self):
        return f"BoxSpace(shape={self.shape}, dtype={self.dtype})"


def _make_spaces(n_actions, low, high):
    """gymnasium spaces when gymnasium is importable (so that wrappers and check_env accept them), else the shims."""
    try:
        from gymnasium import spaces
    except ImportError:
        return DiscreteSpace(n_actions), BoxSpace(low, high)
    return spaces.Discrete(n_actions), spaces.Box(low=low, high=high, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------- environment
class HighwayEnv:
    """Multi-lane highway driving with 5 discrete actions; see the module docstring for the exact dynamics.

    Args:
        lanes: number of lanes (>= 1).
        length: length of the ring road in metres.
        traffic_density: other cars per 100 m of each lane.
        max_steps: steps before the episode is truncated.
        seed: seed of the environment's NumPy Generator, used by reset() until reset(seed=...) reseeds it.
        dt: seconds per step.
        max_speed: top speed of the ego car in m/s (also the normaliser of speeds in the observation).
        traffic_speed: (low, high) range of the other cars' desired speeds in m/s.
        accel, brake: ego speed change per step for actions 3 and 4, in m/s.
        lane_change_cost: subtracted from the reward of a step whose lane change happened.
        crash_penalty: the reward of a crash step.
        sensor_range: metres the observation sees ahead and behind.
        render_mode: None or "rgb_array" (render() always returns the RGB array).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    ACTIONS = ("keep", "left", "right", "accelerate", "brake")

    def __init__(self, lanes=3, length=400.0, traffic_density=2.5, max_steps=200, seed=None, *, dt=0.5,
                 max_speed=30.0, traffic_speed=(10.0, 22.0), accel=2.0, brake=4.0, lane_change_cost=0.05,
                 crash_penalty=-10.0, sensor_range=100.0, render_mode=None):
        if not isinstance(lanes, (int, np.integer)) or isinstance(lanes, bool) or lanes < 1:
            raise ValueError(f"HighwayEnv: lanes must be an int >= 1, got {lanes!r}")
        if not isinstance(max_steps, (int, np.integer)) or isinstance(max_steps, bool) or max_steps < 1:
            raise ValueError(f"HighwayEnv: max_steps must be an int >= 1, got {max_steps!r}")
        if traffic_density < 0:
            raise ValueError(f"HighwayEnv: traffic_density must be >= 0 (cars per 100 m per lane), "
                             f"got {traffic_density}")
        lo, hi = traffic_speed
        if not 0 <= lo <= hi:
            raise ValueError(f"HighwayEnv: traffic_speed must be (low, high) with 0 <= low <= high, "
                             f"got {traffic_speed}")
        for name, value in (("dt", dt), ("max_speed", max_speed), ("sensor_range", sensor_range),
                            ("accel", accel), ("brake", brake)):
            if value <= 0:
                raise ValueError(f"HighwayEnv: {name} must be > 0, got {value}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"HighwayEnv: render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.cars_per_lane = int(round(traffic_density * length / 100.0))
        # Each car needs its own length plus the gap the traffic keeps; the clear zone keeps reset crash-free.
        needed = 2 * CLEAR_ZONE + self.cars_per_lane * (CAR_LENGTH + MIN_GAP)
        if length < needed:
            raise ValueError(f"HighwayEnv: length={length} m cannot hold {self.cars_per_lane} cars per lane; "
                             f"expected length >= {needed} m or a lower traffic_density")
        self.lanes, self.length, self.traffic_density, self.max_steps = int(lanes), float(length), traffic_density, \
            int(max_steps)
        self.dt, self.max_speed, self.traffic_speed = float(dt), float(max_speed), (float(lo), float(hi))
        self.accel, self.brake = float(accel), float(brake)
        self.lane_change_cost, self.crash_penalty = float(lane_change_cost), float(crash_penalty)
        self.sensor_range, self.render_mode = float(sensor_range), render_mode

        self.obs_size = self.lanes + 1 + N_SIDE_FEATURES
        low = np.zeros(self.obs_size, np.float32)
        low[self.lanes + 2::2] = -1.0  # the relative speeds are signed
        self.action_space, self.observation_space = _make_spaces(len(self.ACTIONS), low,
                                                                 np.ones(self.obs_size, np.float32))
        self.np_random = np.random.default_rng(seed)
        # State, filled by reset(). Other cars are parallel arrays (no per-car objects in the hot loop).
        self.car_lane = np.zeros(0, np.int64)
        self.car_x = np.zeros(0)
        self.car_v = np.zeros(0)
        self.car_vdes = np.zeros(0)
        self.ego_lane, self.ego_x, self.ego_v = 0, 0.0, 0.0
        self.steps, self.distance, self.crashed, self._needs_reset = 0, 0.0, False, True

    # ------------------------------------------------------------------------------------------------ reset
    def reset(self, seed=None, options=None):
        """Start an episode; returns (obs, info). `seed` reseeds the generator (None continues its stream).

        options (for tests and hand-made scenarios) may hold:
            "ego_lane": int, "ego_speed": float (m/s),
            "cars": array (k, 3) or (k, 4) of [lane, position relative to the ego car in m, speed(, desired speed)].
        Without "cars" the traffic is random: evenly spread with jitter, outside CLEAR_ZONE around the ego car.
        """
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        options = {} if options is None else dict(options)
        unknown = set(options) - {"ego_lane", "ego_speed", "cars"}
        if unknown:
            raise ValueError(f"HighwayEnv.reset: unknown options {sorted(unknown)}; "
                             f"expected some of ['cars', 'ego_lane', 'ego_speed']")
        rng = self.np_random
        self.ego_lane = int(options.get("ego_lane", self.lanes // 2))
        if not 0 <= self.ego_lane < self.lanes:
            raise ValueError(f"HighwayEnv.reset: ego_lane must be in [0, {self.lanes}), got {self.ego_lane}")
        self.ego_v = float(options.get("ego_speed", 0.5 * self.max_speed))
        if not 0 <= self.ego_v <= self.max_speed:
            raise ValueError(f"HighwayEnv.reset: ego_speed must be in [0, {self.max_speed}], got {self.ego_v}")
        self.ego_x = 0.0
        if "cars" in options:
            self._set_cars(options["cars"])
        else:
            self._random_cars(rng)
        self.steps, self.distance, self.crashed, self._needs_reset = 0, 0.0, False, False
        return self._observe(), self._info(lane_change=False)

    def _random_cars(self, rng):
        n, lanes = self.cars_per_lane, self.lanes
        span = self.length - 2 * CLEAR_ZONE
        spacing = span / max(n, 1)
        jitter = 0.4 * max(spacing - CAR_LENGTH - MIN_GAP, 0.0)  # keeps neighbours from overlapping
        slots = CLEAR_ZONE + (np.arange(n) + 0.5) * spacing
        self.car_lane = np.repeat(np.arange(lanes), n)
        self.car_x = (np.tile(slots, lanes) + rng.uniform(-jitter, jitter, n * lanes)) % self.length
        self.car_vdes = rng.uniform(*self.traffic_speed, n * lanes)
        self.car_v = self.car_vdes.copy()

    def _set_cars(self, cars):
        cars = np.asarray(cars, dtype=np.float64)
        if cars.size == 0:
            cars = cars.reshape(0, 3)
        if cars.ndim != 2 or cars.shape[1] not in (3, 4):
            raise ValueError(f"HighwayEnv.reset: options['cars'] must have shape (k, 3) or (k, 4) "
                             f"[lane, x, speed(, desired)], got {cars.shape}")
        lane = cars[:, 0].astype(np.int64)
        if np.any((lane < 0) | (lane >= self.lanes)) or np.any(lane != cars[:, 0]):
            raise ValueError(f"HighwayEnv.reset: car lanes must be integers in [0, {self.lanes}), got {cars[:, 0]}")
        if np.any(cars[:, 2] < 0):
            raise ValueError(f"HighwayEnv.reset: car speeds must be >= 0, got {cars[:, 2]}")
        self.car_lane = lane
        self.car_x = cars[:, 1] % self.length
        self.car_v = cars[:, 2].copy()
        self.car_vdes = cars[:, 3].copy() if cars.shape[1] == 4 else cars[:, 2].copy()

    # ------------------------------------------------------------------------------------------------- step
    def step(self, action):
        """Advance one step; returns (obs float32 (lanes + 13,), reward, terminated, truncated, info)."""
        if self._needs_reset:
            raise RuntimeError("HighwayEnv.step: the episode is over (or never started); call reset() first")
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if not isinstance(action, (int, np.integer)) or isinstance(action, bool) or not 0 <= action < 5:
            raise ValueError(f"HighwayEnv.step: action must be an int in [0, 5) {self.ACTIONS}, got {action!r}")
        action = int(action)

        # 1. The ego car acts: lane change is instantaneous; the new speed holds for the whole step.
        new_lane = self.ego_lane + (action == RIGHT) - (action == LEFT)
        lane_change = 0 <= new_lane < self.lanes and new_lane != self.ego_lane
        if lane_change:
            self.ego_lane = new_lane
        if action == ACCELERATE:
            self.ego_v = min(self.ego_v + self.accel, self.max_speed)
        elif action == BRAKE:
            self.ego_v = max(self.ego_v - self.brake, 0.0)

        # 2. The other cars choose their speeds from the gap to whatever is ahead of them (ego included).
        gap = self._gap_ahead_of_cars()
        safe = np.maximum((gap - MIN_GAP) / self.dt, 0.0)
        self.car_v = np.minimum(np.minimum(self.car_v + TRAFFIC_ACCEL, self.car_vdes), safe)

        # 3. Crash test in the ego lane: the relative position moves linearly during the step, so the ego car
        #    overlaps a car iff the segment [rel0, rel1] meets the open interval (-CAR_LENGTH, CAR_LENGTH).
        mine = self.car_lane == self.ego_lane
        rel0 = self._relative(self.car_x[mine])
        rel1 = rel0 + (self.car_v[mine] - self.ego_v) * self.dt
        hit = (np.minimum(rel0, rel1) < CAR_LENGTH) & (np.maximum(rel0, rel1) > -CAR_LENGTH)
        self.crashed = bool(np.any(hit))

        # 4. Everyone moves.
        self.car_x = (self.car_x + self.car_v * self.dt) % self.length
        self.ego_x = (self.ego_x + self.ego_v * self.dt) % self.length
        self.distance += self.ego_v * self.dt
        self.steps += 1

        if self.crashed:
            reward = self.crash_penalty
        else:
            reward = self.ego_v / self.max_speed - (self.lane_change_cost if lane_change else 0.0)
        terminated = self.crashed
        truncated = not terminated and self.steps >= self.max_steps
        self._needs_reset = terminated or truncated
        return self._observe(), float(reward), terminated, truncated, self._info(lane_change)

    def _relative(self, x):
        """Signed ring distance from the ego car to positions x, in [-length/2, length/2)."""
        half = 0.5 * self.length
        return (x - self.ego_x + half) % self.length - half

    def _gap_ahead_of_cars(self):
        """Bumper-to-bumper gap (m) from each other car to the next car (or the ego car) ahead in its lane."""
        n = len(self.car_x)
        x = np.append(self.car_x, self.ego_x)
        lane = np.append(self.car_lane, self.ego_lane)
        ahead = (x[None, :] - self.car_x[:, None]) % self.length  # (n, n + 1): distance ahead, in [0, length)
        ahead[lane[None, :] != self.car_lane[:, None]] = np.inf
        ahead[np.arange(n), np.arange(n)] = np.inf  # a car is not its own leader
        return ahead.min(axis=1, initial=np.inf) - CAR_LENGTH

    # ----------------------------------------------------------------------------------------- observation
    def _observe(self):
        obs = np.zeros(self.obs_size, np.float32)
        obs[self.ego_lane] = 1.0
        obs[self.lanes] = self.ego_v / self.max_speed
        # A sentinel car at infinity keeps the arrays non-empty on an empty road; it is never "seen".
        rel = np.append(self._relative(self.car_x), np.inf)
        car_v = np.append(self.car_v, 0.0)
        # Rows: the lanes left, current, right of the ego car; columns: the other cars. Both sides in one pass.
        lanes3 = self.ego_lane + np.array([-1, 0, 1])
        in_lane = np.append(self.car_lane, -1)[None, :] == lanes3[:, None]
        sides = np.empty((3, 4))
        for side, dist in ((0, rel), (2, -rel)):  # ahead: rel >= 0; behind: rel < 0 (distance -rel > 0)
            d = np.where(in_lane & ((rel >= 0) if side == 0 else (rel < 0))[None, :], dist[None, :], np.inf)
            nearest = d.argmin(axis=1)
            gap = d[np.arange(3), nearest] - CAR_LENGTH
            seen = gap < self.sensor_range  # inf (no car) is never seen
            sides[:, side] = np.where(seen, np.clip(gap / self.sensor_range, 0.0, 1.0), 1.0)
            sides[:, side + 1] = np.where(seen, np.clip((car_v[nearest] - self.ego_v) / self.max_speed, -1, 1), 0.0)
        sides[(lanes3 < 0) | (lanes3 >= self.lanes)] = 0.0  # a lane off the road reads as blocked
        obs[self.lanes + 1:] = sides.ravel()
        return obs

    def _info(self, lane_change):
        return {"speed": self.ego_v, "lane": self.ego_lane, "distance": self.distance, "crashed": self.crashed,
                "lane_change": bool(lane_change), "step": self.steps}

    # ---------------------------------------------------------------------------------------------- render
    def render(self, behind=30.0, ahead=90.0, px_per_m=4, lane_px=20):
        """The road around the ego car as an RGB image (H, W, 3) uint8, H = lanes*lane_px + 16, W = (behind+ahead)*px.

        Grey road, white dashed lane lines, blue traffic, red ego car (orange after a crash); left lane on top.
        """
        margin = 8
        h, w = self.lanes * lane_px + 2 * margin, int(round((behind + ahead) * px_per_m))
        img = np.empty((h, w, 3), np.uint8)
        img[:] = (40, 120, 40)  # grass
        img[margin:h - margin] = (90, 90, 90)  # asphalt
        img[margin - 2:margin] = img[h - margin:h - margin + 2] = (240, 240, 240)  # road edges
        dashes = ((np.arange(w) + int(self.ego_x * px_per_m)) // 24) % 2 == 0  # moving with the road
        for k in range(1, self.lanes):
            img[margin + k * lane_px, dashes] = (230, 230, 230)

        def draw(lane, rel, color):
            x0 = int(round((behind + rel - CAR_LENGTH / 2) * px_per_m))
            x1 = int(round((behind + rel + CAR_LENGTH / 2) * px_per_m))
            x0, x1 = max(x0, 0), min(x1, w)
            if x0 < x1:
                y0 = margin + lane * lane_px + 4
                img[y0:y0 + lane_px - 7, x0:x1] = color

        rel = self._relative(self.car_x)
        for lane, r in zip(self.car_lane[(rel > -behind - 5) & (rel < ahead + 5)],
                           rel[(rel > -behind - 5) & (rel < ahead + 5)]):
            draw(int(lane), float(r), (60, 110, 230))
        draw(self.ego_lane, 0.0, (255, 150, 0) if self.crashed else (220, 30, 30))
        return img

    def close(self):
        """Nothing to release; present for the Gymnasium API."""

    def __repr__(self):
        return (f"HighwayEnv(lanes={self.lanes}, length={self.length}, traffic_density={self.traffic_density}, "
                f"max_steps={self.max_steps})")


# ---------------------------------------------------------------------------------------------------- gymnasium
_GYM_CLASS = None


def to_gymnasium(env):
    """Wrap a HighwayEnv as a real `gymnasium.Env` (for gymnasium wrappers and `check_env`); needs gymnasium."""
    global _GYM_CLASS
    if not isinstance(env, HighwayEnv):
        raise TypeError(f"to_gymnasium: expected a HighwayEnv, got {type(env).__name__}")
    try:
        import gymnasium
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    if _GYM_CLASS is None:
        class HighwayGymEnv(gymnasium.Env):
            """A gymnasium.Env that delegates to a HighwayEnv (same spaces, same RNG, same dynamics)."""

            metadata = HighwayEnv.metadata

            def __init__(self, inner):
                self.env = inner
                self.action_space, self.observation_space = inner.action_space, inner.observation_space
                self.render_mode = inner.render_mode
                self._np_random = inner.np_random

            def reset(self, *, seed=None, options=None):
                result = self.env.reset(seed=seed, options=options)
                self._np_random = self.env.np_random  # gymnasium's checks read the generator here
                return result

            def step(self, action):
                return self.env.step(action)

            def render(self):
                return self.env.render()

            def close(self):
                self.env.close()

        _GYM_CLASS = HighwayGymEnv
    return _GYM_CLASS(env)


# ----------------------------------------------------------------------------------------------------- baselines
def heuristic_action(obs, lanes=None, safe_gap=0.25, free_gap=0.12):
    """A scripted driver: pass when the gap ahead is small and an adjacent lane is free, else speed up or brake.

    obs: one observation (lanes + 13,) of HighwayEnv (`lanes` is inferred from its size when None).
    safe_gap / free_gap are in units of the sensor range. Returns an action in [0, 5).
    """
    obs = np.asarray(obs, dtype=np.float64)
    if obs.ndim != 1 or obs.size < 1 + 1 + N_SIDE_FEATURES:
        raise ValueError(f"heuristic_action: expected one HighwayEnv observation of shape (lanes + 13,), "
                         f"got {obs.shape}")
    lanes = obs.size - 1 - N_SIDE_FEATURES if lanes is None else lanes
    left, here, right = (obs[lanes + 1 + 4 * k: lanes + 5 + 4 * k] for k in range(3))
    speed = obs[lanes]
    gap, closing = here[0], -here[1]  # closing > 0: the car ahead is slower

    # Time headway in "sensor ranges per step" terms: keep more room when fast or closing in.
    needed = safe_gap * (0.3 + speed) + max(closing, 0.0) * 0.6
    if gap >= needed:
        return ACCELERATE if speed < 1.0 else KEEP

    def free(lane):  # room beside, room behind, and more room ahead than here
        return lane[0] > max(gap + 0.05, free_gap) and lane[2] > 0.02 and lane[0] > 0.5 * needed

    options = [(lane[0], action) for lane, action in ((left, LEFT), (right, RIGHT)) if free(lane)]
    if options:
        return max(options)[1]
    return BRAKE if gap < needed and (closing > 0 or gap < 0.5 * needed) else KEEP


def random_policy_return(env, episodes=5, seed=0):
    """Mean return of uniformly random actions over `episodes` seeded episodes (a floor for learned policies)."""
    rng = np.random.default_rng(seed)
    n = env.action_space.n
    return evaluate(lambda obs: int(rng.integers(n)), env, episodes, seed)["mean_return"]


def heuristic_policy_return(env, episodes=5, seed=0):
    """Mean return of heuristic_action over `episodes` seeded episodes (a bar a learned policy should clear)."""
    lanes = env.lanes
    return evaluate(lambda obs: heuristic_action(obs, lanes), env, episodes, seed)["mean_return"]
