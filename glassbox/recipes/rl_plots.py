"""Pictures shared by the reinforcement-learning recipes: training returns with a moving average, and a frame strip."""

import numpy as np

from ..train.plots import _pyplot


def moving_average(values, window=20):
    """Trailing mean of `values` (N,) over up to `window` entries -> (N,) float64; entry i averages
    values[max(0, i - window + 1) : i + 1], so the first entries average what exists so far."""
    if int(window) != window or window < 1:
        raise ValueError(f"moving_average: window must be a positive int, got {window}")
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return values
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, values.size + 1)
    starts = np.maximum(ends - int(window), 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def plot_returns(history_returns, path, title, solved=475, window=20, references=None):
    """returns.png: the return of every training episode (thin), its trailing `window`-episode moving average
    (thick), a dashed line at the solved threshold unless `solved` is None, and one dashed line per reference
    policy in `references` ({label: mean return}, e.g. a random and a scripted policy).
    history_returns: sequence of N floats, one per episode in order."""
    returns = np.asarray(history_returns, dtype=np.float64).reshape(-1)
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7.5, 3.8))
    episodes = np.arange(1, returns.size + 1)
    axis.plot(episodes, returns, linewidth=0.8, alpha=0.45, label="episode return")
    if returns.size:
        axis.plot(episodes, moving_average(returns, window), linewidth=2.0,
                  label=f"moving average ({window} episodes)")
    lines = {} if solved is None else {"solved": float(solved)}
    lines.update(references or {})
    for (label, value), color in zip(lines.items(), ("tab:green", "tab:red", "tab:purple", "tab:orange")):
        axis.axhline(value, color=color, linestyle="--", linewidth=1.2, label=f"{label} ({value:g})")
    axis.set_xlabel("training episode")
    axis.set_ylabel("return")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def select_frames(frames, count):
    """Indices of `count` frames spread evenly over a list of `len(frames)` frames, first and last included
    (all of them when there are no more than `count`)."""
    total = len(frames)
    if total <= count:
        return list(range(total))
    return [int(round(i)) for i in np.linspace(0, total - 1, count)]


def plot_frame_strip(frames, path, title, columns=8):
    """frames.png: up to `columns` frames (each an (H, W, 3) uint8 image from env.render() with
    render_mode="rgb_array") spread evenly over the episode, side by side, each labelled with its step number."""
    if len(frames) == 0:
        raise ValueError("plot_frame_strip: no frames to draw (was the env made with render_mode='rgb_array'?)")
    if int(columns) != columns or columns < 1:
        raise ValueError(f"plot_frame_strip: columns must be a positive int, got {columns}")
    first = np.asarray(frames[0])
    if first.ndim != 3:
        raise ValueError(f"plot_frame_strip: each frame must be an (H, W, channels) image, got shape {first.shape}")
    chosen = select_frames(frames, int(columns))
    plt = _pyplot()
    height, width = first.shape[:2]
    panel_width = 2.2
    figure, axes = plt.subplots(1, len(chosen), squeeze=False,
                                figsize=(panel_width * len(chosen), panel_width * height / width + 0.7))
    for axis, index in zip(axes[0], chosen):
        axis.imshow(np.asarray(frames[index]))
        axis.set_title(f"step {index}", fontsize=8)
        axis.axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


# ----- frames: env.render() when it can, else a NumPy drawing of CartPole's state ------------------------------
def draw_cartpole(state, width=600, height=400, x_threshold=2.4, pole_half_length=0.5):
    """An (height, width, 3) uint8 picture of a CartPole state (x, x_dot, theta, theta_dot): track, cart and pole,
    with the proportions of Gymnasium's own renderer. Drawn with NumPy, so it needs no pygame."""
    x, _, theta, _ = (float(v) for v in np.asarray(state).reshape(-1)[:4])
    scale = width / (2 * x_threshold)
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    track_y, cart_w, cart_h = 100, 50.0, 30.0
    image[height - 1 - track_y] = 0
    cart_x = x * scale + width / 2
    axle_x, axle_y = cart_x, track_y + cart_h * 0.75
    pole_length = scale * 2 * pole_half_length
    # only the window that cart and pole can reach is tested pixel by pixel: ~10x cheaper than the whole picture,
    # which matters when every step of an episode is drawn
    reach = pole_length + cart_w
    top = max(0, int(height - 1 - (axle_y + pole_length + 6)))
    bottom = min(height, int(height - 1 - track_y) + 1)
    left, right = max(0, int(cart_x - reach)), min(width, int(cart_x + reach) + 1)
    if top >= bottom or left >= right:  # the cart is outside the picture
        return image
    view = image[top:bottom, left:right]
    rows, cols = np.mgrid[top:bottom, left:right]
    up = height - 1 - rows  # y grows upwards, as in the physics
    cart = (np.abs(cols - cart_x) <= cart_w / 2) & (up >= track_y) & (up <= track_y + cart_h)
    view[cart] = 0
    # the pole: a 10-pixel-wide bar from the axle, leaning by theta (positive = to the right)
    along_x, along_y = np.sin(theta), np.cos(theta)
    dx, dy = cols - axle_x, up - axle_y
    along = dx * along_x + dy * along_y
    across = np.abs(dx * along_y - dy * along_x)
    pole = (along >= 0) & (along <= pole_length) & (across <= 5)
    view[pole] = (202, 152, 101)
    view[dx ** 2 + dy ** 2 <= 25] = (129, 132, 203)
    return image


def render_frame(env):
    """One (H, W, 3) uint8 frame of `env`: env.render() (the env made with render_mode="rgb_array"), or, when
    Gymnasium's renderer needs pygame and it is missing, draw_cartpole of the CartPole state."""
    try:
        frame = env.render()
    except Exception as error:  # gymnasium.error.DependencyNotInstalled; matched by name to not import gymnasium
        if type(error).__name__ != "DependencyNotInstalled":
            raise
        state = getattr(getattr(env, "unwrapped", env), "state", None)
        if state is None or np.asarray(state).size != 4:
            raise
        return draw_cartpole(state)
    if frame is None:
        raise ValueError("render_frame: env.render() returned None; make the env with render_mode='rgb_array'")
    return np.asarray(frame)


def episode_frames(env, policy, seed=0, max_frames=600):
    """Frames (list of (H, W, 3) uint8) of one episode of `policy` (a callable obs -> action) from
    env.reset(seed=seed): the first state and the state after every step; plus the episode's return."""
    obs, _ = env.reset(seed=int(seed))
    frames, total, done = [render_frame(env)], 0.0, False
    while not done and len(frames) < max_frames:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += float(reward)
        done = terminated or truncated
        frames.append(render_frame(env))
    return frames, total
