"""``nacre train ALGO [DIST] --help`` and the settings parser: generated from each config dataclass, per algorithm."""

import json
import re
import subprocess
import sys
import textwrap
from dataclasses import fields

import pytest

from nacre.cli import main
from nacre.training.loop import ALGORITHMS


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # one column of boxes (tyro puts them side by side from 130 columns)


def _help(capsys, *args):
    assert main(["train", *args, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out
    return re.sub(r"(?:\s|[│|╭╮╰╯+─]|-{3,})+", " ", out)  # box drawing (UTF-8 or ASCII) and wrapping away


def _default(text, flag):
    match = re.search(rf"{re.escape(flag)} \S+ .*?\(default: ([^)]*)\)", text)
    assert match, f"{flag} not in the help"
    return match.group(1)


def _flags(config_cls):
    return {"--" + f.name.replace("_", "-") for f in fields(config_cls) if f.name != "env"}


def _one_line(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:  # a malformed setting exits as argparse does
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nacre: error: "), err
    return lines[0]


# ---------------------------------------------------------------------- what each help lists
def test_pearl_help_lists_pearl_settings_with_their_doc_text(capsys):
    from nacre.algos.macaw.config import MacawConfig
    from nacre.algos.pearl.config import PearlConfig

    text = _help(capsys, "pearl")
    offline_only = {"--dataset", "--eval-transitions"}
    for flag in _flags(PearlConfig) - offline_only:
        assert re.search(rf"{flag}\b", text), flag
    for flag in (_flags(MacawConfig) - _flags(PearlConfig)) | offline_only:  # MACAW's and offline PEARL's
        assert not re.search(rf"{flag}\b", text), flag
    assert "--inner-buffer-skip" not in text
    # the field's #: comment is its help; the comment headings group the flags
    assert "the reference's initialisation (rlkit's fan-in rule" in text
    assert 'twin Q: "split" runs one matmul per critic' in text
    for group in ("task distribution options", "model options", "losses options", "batches options",
                  "data collection options", "meta-test options", "run options", "command options"):  # fmt: skip
        assert group in text
    assert _default(text, "--reference-init") == "false" and _default(text, "--meta-batch") == "16"  # dataclass


def test_offline_pearl_help_and_flags_leave_out_what_it_never_reads(capsys):
    """Offline PEARL shares PEARL's config but collects nothing: the collection flags are neither listed nor
    accepted (one-line error), and online PEARL refuses the offline-only ones."""
    text = _help(capsys, "offline-pearl")
    assert re.search(r"--eval-transitions\b", text) and re.search(r"--dataset\b", text)
    for flag in ("--num-steps-prior", "--num-initial-steps", "--num-tasks-sample", "--num-exp-traj-eval",
                 "--replay-buffer-size"):  # fmt: skip
        assert not re.search(rf"{flag}\b", text), flag
    line = _one_line(["train", "offline-pearl", "point-robot", "--dataset", "d", "--num-steps-prior", "10"], capsys)
    assert line == "nacre: error: --num-steps-prior: not an offline PEARL setting"
    line = _one_line(["train", "pearl", "point-robot", "--eval-transitions", "10"], capsys)
    assert line == "nacre: error: --eval-transitions: not a PEARL setting"


def test_macaw_help_lists_macaw_settings_and_no_pearl_one(capsys):
    from nacre.algos.macaw.config import MacawConfig
    from nacre.algos.pearl.config import PearlConfig

    text = _help(capsys, "macaw")
    for flag in _flags(MacawConfig):
        assert re.search(rf"{flag}\b", text), flag
    for flag in ("--kl-lambda", "--meta-batch", "--latent-dim", "--reference-init"):
        assert flag in _flags(PearlConfig) and flag not in text
    assert "inner batches D_tr are inner_batch_size consecutive rows" in text  # inner_buffer_skip's comment
    assert "--data-window {all,first,middle,last}" in text  # Literal fields list their choices


def test_preset_values_are_the_defaults_shown(capsys):
    fast = _help(capsys, "pearl", "sparse-point-robot")
    paper = _help(capsys, "pearl", "sparse-point-robot", "--preset", "paper")
    assert (_default(fast, "--meta-batch"), _default(paper, "--meta-batch")) == ("10", "16")
    assert (_default(fast, "--reference-init"), _default(paper, "--reference-init")) == ("false", "true")
    assert "the 'paper' preset for sparse-point-robot" in paper
    cheetah = _help(capsys, "pearl", "cheetah-vel", "--preset", "paper")
    assert _default(cheetah, "--reference-init") == "true" and _default(cheetah, "--meta-batch") == "16"
    assert _default(_help(capsys, "macaw", "macaw-cheetah-vel", "--preset", "paper"), "--buffer-skip") == "7"


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_registered_algorithm_has_a_help(algorithm, capsys):
    from nacre.cli_train import config_class, unused_fields

    config_cls = config_class(algorithm)
    flags = _flags(config_cls) - {"--" + f.replace("_", "-") for f in unused_fields(config_cls, algorithm)}
    for args in ([algorithm], [algorithm, "point-robot", "--preset", "tiny"]):
        text = _help(capsys, *args)
        assert text.startswith(f"usage: nacre train {algorithm} ")
        for flag in flags:
            assert re.search(rf"{flag}\b", text), (args, flag)
        assert "--preset" in text and "--run-dir" in text and "--no-progress" in text


def test_train_help_without_an_algorithm_lists_the_algorithms(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ALGORITHMS) and "--resume RUN_DIR" in out and "--kl-lambda" in out


def test_resume_help_lists_only_what_a_resumed_run_may_change(tmp_path, capsys):
    from nacre.algos.pearl.config import preset

    cfg = preset("tiny", "sparse-point-robot", kl_lambda=0.7)
    (tmp_path / "config.json").write_text(json.dumps({"algorithm": "pearl", "config": cfg.to_dict()}))
    text = _help(capsys, "--resume", str(tmp_path))
    assert "--num-iterations" in text and "--device" in text and _default(text, "--num-iterations") == "2"
    assert "--kl-lambda" not in text and "--hidden-size" not in text


# ---------------------------------------------------------------------- errors: one line, exit 2
@pytest.mark.parametrize("args,message", [
    (["pearl", "point-robot", "--inner-buffer-skip", "7"], "--inner-buffer-skip: not a PEARL setting"),
    (["macaw", "point-robot", "--kl-lambda", "1", "--latent-dim=3"], "--kl-lambda, --latent-dim: not a MACAW setting"),
    (["promp", "point-robot", "--max-kl", "0.1"], "--max-kl: not a ProMP setting"),
    (["maml-trpo", "point-robot", "--clip-eps", "0.1"], "--clip-eps: not a MAML-TRPO setting"),
    (["pearl", "point-robot", "--use-information-bottleneck", "maybe"],
     "argument --use-information-bottleneck: expected true/false, got 'maybe'"),
    (["pearl", "point-robot", "--meta-batch", "1.5"], "argument --meta-batch: expected an integer, got '1.5'"),
    (["macaw", "point-robot", "--awr-temperature", "warm"],
     "argument --awr-temperature: expected a number, got 'warm'"),
    (["pearl", "point-robot", "--env-kwargs", "goal_radius"], "argument --env-kwargs: expected key=value"),
    (["pearl", "point-robot", "--encoder", "cnn"], "argument --encoder: invalid choice 'cnn' (choose from mlp, "),
    (["pearl", "point-robot", "--seed"], "argument --seed: expected a value"),
    (["pearl", "point-robot", "--latent-dimension", "3"], "unrecognized arguments: --latent-dimension 3 (did you mean "
                                                          "--latent-dim?)"),
    (["pearl", "point-robot", "--env", "cheetah-vel"], "--env: the task distribution is the DISTRIBUTION argument"),
    (["promp", "point-robot", "--discount", "inf"], "discount must be a finite number"),
    (["pearl", "sparse-point-robot", "--env-kwargs", "goal_radius=0.8,foo=1"], "foo"),
    (["nope", "point-robot"], "argument ALGORITHM: invalid choice: 'nope'"),
    (["pearl", "point-robot", "--iterations", "many"], "argument --iterations: invalid int value: 'many'"),
])  # fmt: skip
def test_bad_settings_give_one_line(args, message, capsys, tmp_path):
    line = _one_line(["train", *args, "--run-dir", str(tmp_path / "r"), "--no-progress"], capsys)
    assert message in line
    assert not (tmp_path / "r").exists()


def test_help_with_an_unknown_distribution_or_preset_is_one_line(capsys):
    assert "unknown task distribution 'nowhere'" in _one_line(["train", "pearl", "nowhere", "--help"], capsys)
    assert "unknown preset 'huge'" in _one_line(["train", "pearl", "point-robot", "--preset", "huge", "--help"],
                                                capsys)  # fmt: skip


def test_resume_refuses_settings_it_cannot_change(tmp_path, capsys):
    from nacre.algos.pearl.config import preset

    (tmp_path / "config.json").write_text(
        json.dumps({"algorithm": "pearl", "config": preset("tiny", "point-robot").to_dict()})
    )
    line = _one_line(["train", "--resume", str(tmp_path), "--hidden-size", "8", "--inner-steps", "2"], capsys)
    assert "cannot change hidden_size, inner_steps when resuming (only " in line
    line = _one_line(["train", "--resume", str(tmp_path), "--num-iterations", "x"], capsys)
    assert "argument --num-iterations: expected an integer, got 'x'" in line


# ---------------------------------------------------------------------- the parser itself
def test_settings_are_typed_and_only_the_given_ones_are_overrides():
    from nacre.algos.pearl.config import PearlConfig
    from nacre.cli_train import config_overrides

    words = ["--use-information-bottleneck", "FALSE", "--env-kwargs", "goal_radius=0.8,name=x,on=true",
             "--kl-lambda=1e-2", "--seed", "-3", "--encoder", "rnn-transitions", "--num-iterations", "500"]  # fmt: skip
    assert config_overrides(PearlConfig, words) == {
        "use_information_bottleneck": False, "env_kwargs": {"goal_radius": 0.8, "name": "x", "on": True},
        "kl_lambda": 0.01, "seed": -3, "encoder": "rnn-transitions", "num_iterations": 500}  # fmt: skip
    assert config_overrides(PearlConfig, ["--env-kwargs", ""]) == {"env_kwargs": {}}
    json_object = config_overrides(PearlConfig, ["--env-kwargs", '{"goal_radius": 0.5}'])
    assert json_object == {"env_kwargs": {"goal_radius": 0.5}}


def test_flags_may_come_before_the_positional_arguments():
    from nacre.cli_train import parse_command

    command = parse_command(["--meta-batch", "8", "--preset", "paper", "pearl", "point-robot", "--seed=2",
                             "--no-progress"])  # fmt: skip
    assert (command.algorithm, command.distribution, command.preset, command.no_progress) == (
        "pearl",
        "point-robot",
        "paper",
        True,
    )
    assert command.settings == ["--meta-batch", "8", "--seed=2"]


def test_doc_comments_are_read_from_the_config_source():
    from nacre.algos.mtft.config import MtftConfig
    from nacre.algos.pearl.config import PearlConfig
    from nacre.cli_train import field_docs

    pearl = field_docs(PearlConfig)
    assert pearl["reference_init"].text.startswith("the reference's initialisation (rlkit's fan-in rule")
    assert pearl["reference_init"].group == "model" and pearl["kl_lambda"].group == "losses"
    assert pearl["q_ensemble"].group == "speed options of the gradient step"
    assert pearl["q_ensemble"].group_note.startswith("each leaves the gradients exactly")
    assert "run_only_fields" not in pearl and "label" not in pearl  # class variables are no settings
    mtft = field_docs(MtftConfig)  # a field redefined in a subclass takes the subclass's comment and heading
    assert mtft["eval_steps"].text.startswith("fine-tuning steps")
    assert mtft["eval_steps"].group == "test-time fine-tuning"
    assert mtft["dataset"].group == "task distribution and offline data"  # inherited from OfflineRunConfig


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_setting_has_a_doc_comment(algorithm):
    from nacre.cli_train import config_class, field_docs, setting_fields

    config_cls = config_class(algorithm)
    docs = field_docs(config_cls)
    assert [name for name in setting_fields(config_cls) if not docs[name].text] == []


# ---------------------------------------------------------------------- a new algorithm needs no CLI change
DUMMY = '''
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from nacre.config import ConfigBase, ConfigError

Mode = Literal["a", "b"]
PRESETS = ("small", "large")


@dataclass(frozen=True)
class DummyConfig(ConfigBase):
    """Every setting of a dummy method."""

    label: ClassVar[str] = "Dummy"
    run_only_fields: ClassVar[frozenset[str]] = frozenset({"device"})

    # task distribution
    env: str = "point-robot"
    # the network: sizes only
    #: hidden widths, one per layer
    widths: tuple[int, ...] = (32, 32)
    #: how wide the dummy thinks
    width: int = 4
    mode: Mode = "a"  #: the dummy mode
    # run
    seed: int = 0
    device: str = "cpu"
    rate: float = 0.5

    def __post_init__(self) -> None:
        self.check_types()
        if self.width <= 0:
            raise ConfigError(f"width must be positive, got {self.width}")


def preset(name: str, env: str, **overrides) -> DummyConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}")
    return DummyConfig(env=env, **{"width": 4 if name == "small" else 400, **overrides})


class DummyTrainer:
    def __init__(self, cfg: DummyConfig) -> None:
        raise ConfigError(f"dummy trainer built with width={cfg.width} widths={cfg.widths} mode={cfg.mode}")
'''


@pytest.fixture
def dummy(tmp_path, monkeypatch):
    (tmp_path / "nacre_dummy_algo.py").write_text(textwrap.dedent(DUMMY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(ALGORITHMS, "dummy", ("nacre_dummy_algo:DummyConfig", "nacre_dummy_algo:DummyTrainer"))
    yield
    sys.modules.pop("nacre_dummy_algo", None)


def test_a_newly_registered_algorithm_gets_its_flags(dummy, tmp_path, capsys):
    text = _help(capsys, "dummy")
    assert "usage: nacre train dummy DISTRIBUTION" in text and "Every setting of a dummy method." in text
    assert "--width INT how wide the dummy thinks (default: 4)" in text
    assert "--mode {a,b} the dummy mode (default: a)" in text
    assert "the network options sizes only" in text and "--widths" in text
    assert "--device STR [changeable on --resume]" in text and "Presets: small, large." in text
    assert "--kl-lambda" not in text
    assert _default(_help(capsys, "dummy", "point-robot", "--preset", "large"), "--width") == "400"
    # parsed, applied by the algorithm's preset, handed to its trainer (which stops here with a message)
    line = _one_line(["train", "dummy", "point-robot", "--preset", "large", "--widths", "8", "16", "--mode", "b",
                      "--run-dir", str(tmp_path / "r")], capsys)  # fmt: skip
    assert line == "nacre: error: dummy trainer built with width=400 widths=(8, 16) mode=b"
    assert "--kl-lambda: not a Dummy setting" in _one_line(["train", "dummy", "point-robot", "--kl-lambda", "1"],
                                                           capsys)  # fmt: skip
    assert "width must be positive" in _one_line(["train", "dummy", "point-robot", "--preset", "small", "--width",
                                                  "0"], capsys)  # fmt: skip
    assert "expected an integer, got 'wide'" in _one_line(["train", "dummy", "point-robot", "--width", "wide"], capsys)


# ---------------------------------------------------------------------- start-up
def test_top_level_help_imports_no_algorithm():
    code = ("import contextlib, io, sys\nfrom nacre.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main(['--help'])\n"
            "print(sorted(m for m in ('torch', 'tyro', 'nacre.training.loop') if m in sys.modules))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_algorithm_help_imports_no_torch(algorithm):
    """``nacre train ALGO --help`` reads the config classes only: no trainer, no torch (about 3 s of start-up)."""
    code = ("import contextlib, io, sys\nfrom nacre.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            f"    main(['train', {algorithm!r}, '--help'])\n"
            "print('torch' in sys.modules, '--seed' in out.getvalue())")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split()[-2:] == ["False", "True"]  # the help was printed, and torch was not imported


@pytest.mark.parametrize("argv, message", [
    (["train", "pearl", "sparse-point-robot", "--preset", "nonsense"], "unknown preset 'nonsense'"),
    (["train", "macaw", "macaw-cheetah-vel", "--env-kwargs", "speed=1"], "nacre: error:"),
])  # fmt: skip
def test_bad_train_input_is_refused_before_torch_loads(argv, message):
    """The settings, the distribution and the preset are checked on the config alone: a typo costs no torch start-up."""
    code = ("import contextlib, io, sys\nfrom nacre.cli import main\nerr = io.StringIO()\n"
            "with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):\n"
            f"    main({argv!r})\n"
            "print('torch' in sys.modules, err.getvalue().strip().splitlines()[-1])")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, _, line = proc.stdout.strip().partition(" ")
    assert loaded == "False" and message in line
