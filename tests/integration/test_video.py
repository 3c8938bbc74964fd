"""``nacre video``: tiny trained runs rendered to GIF and MP4, offscreen MuJoCo and the top-down fallback."""

import numpy as np
import pytest

from nacre.cli import main
from nacre.evaluation import video
from nacre.training.loop import load_trainer

iio = pytest.importorskip("imageio.v3")

TINY = ["--preset", "tiny", "--no-progress", "--no-tensorboard", "--num-iterations", "1"]


def _train(tmp_path_factory, family):
    rd = tmp_path_factory.mktemp("video") / family
    assert main(["train", "pearl", family, *TINY, "--run-dir", str(rd)]) == 0
    return rd


@pytest.fixture(scope="module")
def point_run(tmp_path_factory):
    return _train(tmp_path_factory, "sparse-point-robot")


@pytest.fixture(scope="module")
def cheetah_run(tmp_path_factory):
    """A cheetah-vel run directory with an iteration-0 checkpoint: rendering does not depend on training, and
    collecting 200-step MuJoCo episodes would cost most of this file's time budget."""
    from nacre.algos.pearl import PearlTrainer, preset
    from nacre.training.checkpoint import checkpoint_path, save_checkpoint
    from nacre.training.loop import write_run_files

    rd = tmp_path_factory.mktemp("video") / "cheetah-vel"
    trainer = PearlTrainer(preset("tiny", "cheetah-vel"))
    write_run_files(rd, trainer)
    save_checkpoint(checkpoint_path(rd / "checkpoints", 0), trainer.state_dict())
    return rd


@pytest.fixture(scope="module")
def offscreen():
    """Skip when this machine has no working offscreen OpenGL (EGL, or whatever MUJOCO_GL names)."""
    from nacre.envs.registry import make_distribution

    backend = video.use_offscreen_gl()
    env = make_distribution("cheetah-vel").make_env({"velocity": 1.0}, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        env.render()
    except Exception as exc:
        pytest.skip(f"no offscreen OpenGL on this machine (MUJOCO_GL={backend}): {exc}; {video.RENDERING_HELP}")
    finally:
        env.close()


def _all_differ(frames):
    return all(np.any(a != b) for a, b in zip(frames[:-1], frames[1:], strict=True))


@pytest.mark.mujoco
def test_mujoco_gif_has_a_captioned_frame_per_step(cheetah_run, offscreen, tmp_path):
    out = tmp_path / "cheetah.gif"
    assert main(["video", str(cheetah_run), "--trajectories", "2", "--max-steps", "6", "--out", str(out)]) == 0
    frames = iio.imread(out, index=None)
    # per trajectory: the reset frame, one per step, then the 0.5 s pause (identical frames, merged by the GIF)
    assert frames.shape == (2 * (6 + 1), 480, 480, 3)
    assert _all_differ(frames)
    assert np.abs(frames[0].astype(int) - frames[6]).mean() > 1.0  # the cheetah moved, not only the caption
    assert iio.immeta(out)["duration"] == 50  # real time: dt = 0.05 s


@pytest.mark.mujoco
def test_mujoco_api_exploration_then_adapted(cheetah_run, offscreen, tmp_path):
    trainer = load_trainer(cheetah_run, weights_only=True)
    out = tmp_path / "cheetah.gif"
    assert video.render_adaptation(trainer, 1, 2, out, max_steps=3, pause=0, every=2) == out
    frames = iio.imread(out, index=None)
    assert len(frames) == 2 * 3  # steps 0, 2 and the last (3)
    # the caption's first line is orange while exploring (z ~ prior), green once adapted
    top = frames[:, 4:22, 4:200].reshape(len(frames), -1, 3).astype(int)
    greenish = ((top[..., 1] > top[..., 0] + 40) & (top[..., 1] > 150)).sum(axis=1)
    orangish = ((top[..., 0] > top[..., 2] + 80) & (top[..., 0] > 200)).sum(axis=1)
    assert (orangish[:3] > greenish[:3]).all() and (greenish[3:] > orangish[3:]).all()


def test_point_robot_falls_back_to_a_top_down_view(point_run, tmp_path):
    trainer = load_trainer(point_run, weights_only=True)
    assert trainer.distribution.make_env(trainer.split.test[0]).render_mode is None
    out = tmp_path / "sub" / "point.gif"
    video.render_adaptation(trainer, 1, 3, out, pause=0)
    frames = iio.imread(out, index=None)
    assert frames.shape == (3 * (trainer.episode_length + 1), 480, 480, 3)
    assert _all_differ(frames)
    assert iio.immeta(out)["duration"] == 200  # 5 frames per second
    assert not list(out.parent.glob(".*partial*"))
    again = tmp_path / "again.gif"
    video.render_adaptation(trainer, 1, 3, again, pause=0)  # default seed 0: resets and z draws
    assert again.read_bytes() == out.read_bytes()


def test_cli_writes_the_default_video_and_every_thins_frames(point_run, capsys):
    default = point_run / "videos" / f"task0{video.default_suffix()}"
    assert main(["video", str(point_run), "--trajectories", "2", "--max-steps", "4"]) == 0
    assert default.is_file() and default.stat().st_size > 1000
    assert str(default) in capsys.readouterr().err
    gif = point_run / "videos" / "thin.gif"
    assert main(["video", str(point_run), "--trajectories", "1", "--every", "3", "--fps", "10", "--out", str(gif)]) == 0
    # steps 0, 3, ..., 18 and the last (20), then the 0.5 s pause (identical frames, merged into the last one)
    assert len(iio.imread(gif, index=None)) == 8


def test_cli_mp4(point_run, tmp_path):
    if not video.mp4_available():
        pytest.skip("imageio-ffmpeg is not installed")
    import imageio.v2 as iio2

    out = tmp_path / "point.mp4"
    assert main(["video", str(point_run), "--trajectories", "2", "--max-steps", "5", "--fps", "4",
                 "--out", str(out)]) == 0  # fmt: skip
    reader = iio2.get_reader(out, format="FFMPEG")
    assert reader.count_frames() == 2 * (5 + 1 + 2)  # 2 pause frames (0.5 s at 4 fps) after each trajectory
    assert reader.get_meta_data()["size"] == (480, 480)
    reader.close()


def test_bad_requests_are_one_line_errors(point_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.gif"
    assert main(["video", str(point_run), "--task-index", "7", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "nacre: error: task index 7 is out of range: the run has 2 test tasks (0 to 1)"
    assert main(["video", str(point_run), "--out", str(tmp_path / "x.avi")]) == 2
    assert main(["video", str(point_run), "--trajectories", "0", "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
    monkeypatch.setattr(video, "mp4_available", lambda: False)
    assert main(["video", str(point_run), "--out", str(tmp_path / "x.mp4")]) == 2
    assert "pip install nacre-rl[video]" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_rollout_step_hook_only_watches():
    from nacre.envs.point_robot import PointRobotEnv
    from nacre.rollout import rollout

    seen = []
    policy = lambda obs: np.array([0.5, -0.2], dtype=np.float32)
    env = PointRobotEnv((0.5, 0.5), episode_length=7)
    plain = rollout(env, policy, np.random.default_rng(3), 7)
    watched = rollout(env, policy, np.random.default_rng(3), 7, on_step=lambda o, r, i: seen.append((o.copy(), r)))
    assert len(seen) == len(plain) + 1 and seen[0][1] is None
    np.testing.assert_array_equal(np.stack([o for o, _ in seen[1:]]), watched.next_obs)
    np.testing.assert_array_equal(np.float32([r for _, r in seen[1:]]), watched.rewards)
    for a, b in zip(plain, watched, strict=True):
        np.testing.assert_array_equal(a, b)
