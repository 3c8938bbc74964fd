"""Videos of online adaptation: what a trained agent does on one task, trajectory by trajectory.

:func:`render_adaptation` runs the meta-test protocol of :class:`~nacre.algos.pearl.adapter.PearlAdapter`
(z from the prior, deterministic actions, the belief updated after each trajectory as ``num_exp_traj_eval``
says) on a single task and records every trajectory. Each frame carries a caption: which trajectory it is
(``k/K``), whether the agent is still exploring (z drawn from the prior) or adapted (z drawn from the
posterior over the context collected so far), the step and the return so far (the reported return: sparse
for sparse-reward runs).

Frames come from the environment itself when its distribution's ``make_env`` accepts
``render_mode="rgb_array"`` (the MuJoCo families; offscreen OpenGL, see below). Otherwise, as for the point
robots, a top-down view of the plane is drawn: the first two observation coordinates are taken as the
agent's position (the point robots' observation is their position), with the goal and its radius when the
environment has ``goal`` / ``goal_radius`` attributes, and the paths of the earlier trajectories in grey.

The output format follows the suffix: ``.gif`` (Pillow, always available) or ``.mp4`` (H.264 through
imageio's ffmpeg plugin: ``pip install nacre-rl[video]``).

Offscreen rendering: on Linux, ``MUJOCO_GL`` is set to ``egl`` unless the user chose a backend. Gymnasium's
renderer reads the variable when the first frame is drawn, so setting it here works even after ``mujoco``
was imported. Without a GPU, EGL runs on Mesa's software rasteriser (Debian/Ubuntu packages ``libegl1``,
``libegl-mesa0`` and ``libgl1-mesa-dri``); ``MUJOCO_GL=osmesa`` (package ``libosmesa6``) is the alternative.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from nacre.algos.pearl.adapter import PearlAdapter
from nacre.vector_rollout import rollout_batch

SUFFIXES = (".mp4", ".gif")
TOP_DOWN_SIZE = 480  # pixels, square; a multiple of 16 so H.264 takes it as it is
TOP_DOWN_FPS = 5.0

RENDERING_HELP = (
    "on a headless Linux machine install EGL (Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 "
    "libgl1-mesa-dri) and keep MUJOCO_GL=egl, or install OSMesa (apt-get install libosmesa6) and set "
    "MUJOCO_GL=osmesa"
)


class VideoError(ValueError):
    """A video cannot be made as asked (task index, output format, a missing optional package)."""


class RenderingUnavailable(VideoError):
    """The environment's offscreen rendering failed (no usable OpenGL backend on this machine)."""


def mp4_available() -> bool:
    """Whether MP4 can be written (imageio and imageio-ffmpeg are installed)."""
    return all(importlib.util.find_spec(name) is not None for name in ("imageio", "imageio_ffmpeg"))


def default_suffix() -> str:
    """``.mp4`` when imageio-ffmpeg is installed, ``.gif`` otherwise."""
    return ".mp4" if mp4_available() else ".gif"


def use_offscreen_gl() -> str | None:
    """Select EGL for MuJoCo's offscreen rendering on Linux unless ``MUJOCO_GL`` is already set; return it."""
    if sys.platform.startswith("linux"):
        os.environ.setdefault("MUJOCO_GL", "egl")
    return os.environ.get("MUJOCO_GL")


# ---------------------------------------------------------------------- the protocol, recorded
@dataclass
class _Caption:
    index: int  # 1-based trajectory number
    total: int
    adapted: bool
    task: str
    max_steps: int
    step: int = 0
    ret: float = 0.0
    success: bool = False
    sparse: bool = False

    def lines(self) -> list[str]:
        phase = "adapted: z ~ posterior" if self.adapted else "exploration: z ~ prior"
        status = f"step {self.step}/{self.max_steps}   {'sparse return' if self.sparse else 'return'} {self.ret:.2f}"
        if self.success:
            status += "   goal reached"
        out = [f"trajectory {self.index}/{self.total}  {phase}", status]
        if self.task:
            out.append(f"task {self.task}")
        return out


def render_adaptation(
    trainer: Any,
    task_index: int = 0,
    num_trajectories: int | None = None,
    out: str | Path = "adaptation.mp4",
    fps: float | None = None,
    tasks: str = "test",
    rng: np.random.Generator | None = None,
    max_steps: int | None = None,
    every: int = 1,
    pause: float = 0.5,
) -> Path:
    """Record the online adaptation of ``trainer``'s agent on one task to ``out`` (``.mp4`` or ``.gif``).

    ``num_trajectories`` defaults to the exploration trajectories plus the first adapted one
    (``cfg.test_return_index + 1``). ``max_steps`` caps each trajectory (default: the full episode),
    ``every`` keeps one frame every that many steps (and always the last), ``pause`` holds the last frame of
    each trajectory for that many seconds. ``fps`` defaults to real time for MuJoCo (``1 / (dt * every)``,
    within [2, 50]) and 5 for the top-down view. ``rng`` seeds the resets and the z draws (default: seed 0).
    Returns ``out``. Raises :class:`VideoError` for bad arguments and :class:`RenderingUnavailable`
    when offscreen rendering does not work on this machine.
    """
    cfg = trainer.cfg
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise VideoError(f"cannot write {out.name!r}: the output must end in .mp4 or .gif")
    if suffix == ".mp4" and not mp4_available():
        raise VideoError("writing MP4 needs imageio-ffmpeg: pip install nacre-rl[video] (or write a .gif)")
    if tasks not in ("test", "train"):
        raise VideoError(f"tasks must be 'test' or 'train', got {tasks!r}")
    task_list = trainer.split.test if tasks == "test" else trainer.split.train
    if not 0 <= task_index < len(task_list):
        raise VideoError(f"task index {task_index} is out of range: the run has {len(task_list)} {tasks} tasks "
                         f"(0 to {len(task_list) - 1})")  # fmt: skip
    for name, value in (("num_trajectories", num_trajectories), ("max_steps", max_steps), ("fps", fps)):
        if value is not None and not value > 0:
            raise VideoError(f"{name} must be positive, got {value}")
    if every < 1:
        raise VideoError(f"every must be at least 1, got {every}")
    if pause < 0:
        raise VideoError(f"pause must not be negative, got {pause}")

    task = task_list[task_index]
    total = num_trajectories or cfg.test_return_index + 1
    steps = min(max_steps or trainer.episode_length, trainer.episode_length)
    rng = rng if rng is not None else np.random.default_rng(0)
    env = _make_env(trainer.distribution, task)
    try:
        if env.render_mode == "rgb_array":
            frames: _Frames = _EnvFrames(env)
            default_fps = 1.0 / (float(env.unwrapped.dt) * every) if hasattr(env.unwrapped, "dt") else 20.0
            default_fps = min(50.0, max(2.0, default_fps))
        else:
            frames = _TopDownFrames(env, task, trainer.distribution.id)
            default_fps = TOP_DOWN_FPS
        rate = float(fps or default_fps)
        hold = round(pause * rate)
        # z draws come from a generator seeded by ``rng`` (as in PearlTrainer.evaluate), never the training one
        gen = torch.Generator(device=trainer.learner.device)
        gen.manual_seed(int(rng.integers(0, 2**62)))
        adapter = PearlAdapter(trainer.learner, deterministic=True, gen=gen)
        state = adapter.begin(1)
        with _VideoWriter(out, rate) as writer:
            for k in range(total):
                # PearlAdapter.observe: z comes from the posterior once max(1, num_exp_traj_eval) trajectories are in
                caption = _Caption(k + 1, total, adapted=k >= max(1, cfg.num_exp_traj_eval),
                                   task=_describe_task(task), max_steps=steps, sparse=cfg.sparse_rewards)  # fmt: skip
                frames.start(caption)

                def on_step(i: int, obs: np.ndarray, reward: float | None, info: dict[str, Any],
                            caption: _Caption = caption) -> None:  # fmt: skip
                    if reward is not None:
                        caption.step += 1
                        caption.ret += float(info.get("sparse_reward", reward)) if cfg.sparse_rewards else reward
                        caption.success = caption.success or bool(info.get("success", False))
                    frames.observe(obs, keep=caption.step % every == 0, write=writer.add)

                traj = rollout_batch([env], adapter.policy(state), rng, steps, on_step=on_step)[0]
                frames.finish(hold, write=writer.add)
                state = adapter.observe(state, [traj], k + 1)
            frames.flush(write=writer.add)
    finally:
        env.close()
    return out


def _make_env(distribution: Any, task: Mapping[str, Any]) -> gym.Env:
    """An ``rgb_array`` env when the distribution's ``make_env`` takes ``render_mode``, else a plain one."""
    try:
        params = inspect.signature(distribution.make_env).parameters.values()
    except (TypeError, ValueError):
        params = []  # type: ignore[assignment]
    if any(p.name == "render_mode" or p.kind is p.VAR_KEYWORD for p in params):
        use_offscreen_gl()
        try:
            return distribution.make_env(task, render_mode="rgb_array")
        except TypeError:  # **kwargs that do not take render_mode after all
            pass
    return distribution.make_env(task)


def _describe_task(task: Mapping[str, Any]) -> str:
    """The task's scalar and short-vector entries, e.g. ``velocity=1.23``; big arrays are left out."""
    parts = []
    for key, value in task.items():
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged nested lists
            continue
        if arr.dtype.kind not in "iuf" or arr.size > 3:
            continue
        text = f"{float(arr):.2f}" if arr.ndim == 0 else "(" + ", ".join(f"{v:.2f}" for v in arr.ravel()) + ")"
        parts.append(f"{key}={text}")
    return "  ".join(parts)


# ---------------------------------------------------------------------- frames
class _Frames:
    """Where frames come from: ``start`` a trajectory, ``observe`` each state, ``finish``, then ``flush``."""

    def start(self, caption: _Caption) -> None:
        raise NotImplementedError

    def observe(self, obs: np.ndarray, keep: bool, write: Any) -> None:
        raise NotImplementedError

    def finish(self, hold: int, write: Any) -> None:
        raise NotImplementedError

    def flush(self, write: Any) -> None:
        """Write whatever was kept back until all trajectories were known."""


class _EnvFrames(_Frames):
    """Frames rendered by the environment (``render_mode="rgb_array"``) and captioned at once."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.checked = False
        self.caption: _Caption | None = None
        self.last: np.ndarray | None = None
        self.last_step = -1

    def _render(self) -> np.ndarray:
        if self.checked:
            return np.asarray(self.env.render())
        try:
            frame = np.asarray(self.env.render())
        except Exception as exc:  # OpenGL backends fail with ImportError, AttributeError, RuntimeError, ...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
            raise RenderingUnavailable(
                f"offscreen rendering failed (MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: {first}); {RENDERING_HELP}"
            ) from exc
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise RenderingUnavailable(f"render() returned an array of shape {frame.shape}, not an RGB image")
        self.checked = True
        return frame

    def start(self, caption: _Caption) -> None:
        self.caption, self.last, self.last_step = caption, None, -1

    def observe(self, obs: np.ndarray, keep: bool, write: Any) -> None:
        assert self.caption is not None
        if keep:
            self.last = _annotate(self._render(), self.caption)
            self.last_step = self.caption.step
            write(self.last)

    def finish(self, hold: int, write: Any) -> None:
        assert self.caption is not None
        if self.last_step != self.caption.step:  # the env is still in the final state: draw it
            self.last = _annotate(self._render(), self.caption)
            write(self.last)
        for _ in range(hold):
            write(self.last)


@dataclass
class _Path:
    caption: _Caption
    points: list[np.ndarray] = field(default_factory=list)
    keys: list[tuple[int, _Caption]] = field(default_factory=list)  # (number of points, caption then)
    hold: int = 0


class _TopDownFrames(_Frames):
    """A top-down view of the plane, drawn once every trajectory is known (so the view box is fixed)."""

    def __init__(self, env: gym.Env, task: Mapping[str, Any], dist_id: str) -> None:
        shape = env.observation_space.shape or ()
        if len(shape) != 1 or shape[0] < 2:
            raise VideoError(f"{dist_id} environments cannot render (their make_env takes no render_mode) and "
                             f"their observations {tuple(shape)} have no 2-D position to draw")  # fmt: skip
        inner = env.unwrapped
        goal = getattr(inner, "goal", task.get("goal"))
        self.goal = None if goal is None else np.asarray(goal, dtype=np.float64).ravel()[:2]
        radius = getattr(inner, "goal_radius", None)
        self.radius = float(radius) if radius is not None else None
        self.paths: list[_Path] = []

    def start(self, caption: _Caption) -> None:
        self.paths.append(_Path(caption))

    def observe(self, obs: np.ndarray, keep: bool, write: Any) -> None:
        path = self.paths[-1]
        path.points.append(np.asarray(obs, dtype=np.float64).ravel()[:2].copy())
        if keep:
            path.keys.append((len(path.points), _copy_caption(path.caption)))

    def finish(self, hold: int, write: Any) -> None:
        path = self.paths[-1]
        if not path.keys or path.keys[-1][0] != len(path.points):
            path.keys.append((len(path.points), _copy_caption(path.caption)))
        path.hold = hold

    def flush(self, write: Any) -> None:
        pts = [p for path in self.paths for p in path.points]
        if self.goal is not None:
            r = self.radius or 0.0
            pts += [self.goal - r, self.goal + r]
        allpts = np.array(pts)
        lo, hi = allpts.min(axis=0), allpts.max(axis=0)
        centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 0.5) * 1.12
        size = TOP_DOWN_SIZE
        to_px = lambda p: (float((p[0] - centre[0]) / half + 1) * size / 2,
                           float(1 - (p[1] - centre[1]) / half) * size / 2)  # fmt: skip
        for n, path in enumerate(self.paths):
            base = Image.new("RGB", (size, size), (250, 250, 247))
            draw = ImageDraw.Draw(base)
            self._background(draw, to_px, size, half)
            for earlier in self.paths[:n]:
                draw.line([to_px(p) for p in earlier.points], fill=(190, 190, 190), width=2)
            colour = (40, 150, 70) if path.caption.adapted else (230, 120, 20)
            frame = None
            for count, caption in path.keys:
                img = base.copy()
                d = ImageDraw.Draw(img)
                xy = [to_px(p) for p in path.points[:count]]
                if len(xy) > 1:
                    d.line(xy, fill=colour, width=3)
                sx, sy = xy[0]
                d.rectangle((sx - 4, sy - 4, sx + 4, sy + 4), outline=(60, 60, 60), width=2)
                x, y = xy[-1]
                d.ellipse((x - 7, y - 7, x + 7, y + 7), fill=colour, outline=(30, 30, 30))
                frame = _annotate(np.asarray(img), caption)
                write(frame)
            for _ in range(path.hold):
                write(frame)

    def _background(self, draw: ImageDraw.ImageDraw, to_px: Any, size: int, half: float) -> None:
        ox, oy = to_px((0.0, 0.0))
        draw.line((0, oy, size, oy), fill=(225, 225, 225))
        draw.line((ox, 0, ox, size), fill=(225, 225, 225))
        if self.goal is None:
            return
        gx, gy = to_px(self.goal)
        if self.radius:
            r = self.radius / half * size / 2
            draw.ellipse((gx - r, gy - r, gx + r, gy + r), fill=(214, 234, 248), outline=(80, 140, 200), width=2)
        draw.line((gx - 8, gy - 8, gx + 8, gy + 8), fill=(200, 30, 30), width=3)
        draw.line((gx - 8, gy + 8, gx + 8, gy - 8), fill=(200, 30, 30), width=3)


def _copy_caption(caption: _Caption) -> _Caption:
    return _Caption(**vars(caption))


# ---------------------------------------------------------------------- captions
@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def _annotate(frame: np.ndarray, caption: _Caption) -> np.ndarray:
    """The frame with the caption in a translucent box at its top left."""
    img = Image.fromarray(np.ascontiguousarray(frame[..., :3])).convert("RGBA")
    font = _font(max(11, img.height // 32))
    lines = caption.lines()
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad, gap = 6, 3
    boxes = [draw.textbbox((0, 0), line, font=font) for line in lines]
    height = max(b[3] - b[1] for b in boxes)
    width = max(b[2] - b[0] for b in boxes)
    draw.rectangle((0, 0, width + 2 * pad, pad * 2 + len(lines) * (height + gap)), fill=(0, 0, 0, 150))
    colours = [(120, 230, 140) if caption.adapted else (255, 180, 90)] + [(255, 255, 255)] * (len(lines) - 1)
    for i, (line, colour) in enumerate(zip(lines, colours, strict=True)):
        draw.text((pad, pad + i * (height + gap) - boxes[i][1]), line, font=font, fill=(*colour, 255))
    return np.asarray(Image.alpha_composite(img, overlay).convert("RGB"))


# ---------------------------------------------------------------------- writing
class _VideoWriter:
    """Frames to ``.gif`` (Pillow) or ``.mp4`` (imageio + ffmpeg); written under a temporary name, then moved
    into place, so a failure leaves no half-written video."""

    def __init__(self, out: Path, fps: float) -> None:
        self.out, self.fps = out, fps
        self.tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
        self.gif_frames: list[Image.Image] = []
        self.mp4: Any = None
        self.count = 0

    def __enter__(self) -> _VideoWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.out.suffix.lower() == ".mp4":
            import imageio.v2 as iio

            self.mp4 = iio.get_writer(self.tmp, format="FFMPEG", mode="I", fps=self.fps, codec="libx264",
                                      pixelformat="yuv420p", quality=7, macro_block_size=16,
                                      ffmpeg_log_level="error")  # fmt: skip
        return self

    def add(self, frame: np.ndarray) -> None:
        self.count += 1
        if self.mp4 is not None:
            self.mp4.append_data(frame)
        else:  # palette per frame now: a quarter of the memory of RGB frames
            self.gif_frames.append(Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.FASTOCTREE))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self.mp4 is not None:
                self.mp4.close()
            elif exc_type is None and self.gif_frames:
                first, *rest = self.gif_frames
                first.save(self.tmp, format="GIF", save_all=True, append_images=rest,
                           duration=max(20, round(1000 / self.fps)), loop=0)  # fmt: skip
            if exc_type is None:
                if self.count == 0:
                    raise VideoError("no frames were recorded")
                os.replace(self.tmp, self.out)
        finally:
            self.gif_frames.clear()
            self.tmp.unlink(missing_ok=True)
