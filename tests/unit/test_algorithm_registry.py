"""The algorithm registry resolves each name's ``module:Class`` strings in one place."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nacre.algos.registry import (
    ALGORITHMS,
    UnknownAlgorithmError,
    config_class,
    preset,
    preset_names,
    trainer_class,
)
from nacre.config import ConfigError


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_registered_name_resolves_to_its_classes(algorithm: str) -> None:
    config_target, trainer_target = ALGORITHMS[algorithm]
    cfg, trainer = config_class(algorithm), trainer_class(algorithm)
    assert f"{cfg.__module__}:{cfg.__name__}" == config_target
    assert f"{trainer.__module__}:{trainer.__name__}" == trainer_target


def test_unknown_name_is_one_line_error_listing_known_names() -> None:
    with pytest.raises(UnknownAlgorithmError) as err:
        config_class("ppo")
    message = str(err.value)
    assert "'ppo'" in message and "pearl" in message and "\n" not in message
    with pytest.raises(UnknownAlgorithmError):
        trainer_class("ppo")


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_builds_each_of_its_presets_with_overrides(algorithm: str) -> None:
    names = preset_names(algorithm)
    assert {"paper", "fast", "tiny"} <= set(names)
    env = "macaw-cheetah-vel" if algorithm in ("macaw", "mt-finetune") else "point-robot"
    for name in names:
        cfg = preset(algorithm, name, env, seed=7)
        assert isinstance(cfg, config_class(algorithm)) and cfg.seed == 7 and cfg.env == env
    assert preset(algorithm, "paper", env) != preset(algorithm, "tiny", env)
    with pytest.raises(ConfigError, match="nonsense"):
        preset(algorithm, "nonsense", env)


def test_config_class_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from nacre.algos.registry import ALGORITHMS, config_class\n"
        "from nacre.algos.registry import preset, preset_names\n"
        "for name in ALGORITHMS: config_class(name); preset_names(name)\n"
        "preset('maml-trpo', 'fast', 'point-robot')\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
