"""The algorithm registry resolves each name's ``module:Class`` strings in one place."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nacre.algos.registry import ALGORITHMS, UnknownAlgorithmError, config_class, trainer_class


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


def test_config_class_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from nacre.algos.registry import ALGORITHMS, config_class\n"
        "for name in ALGORITHMS: config_class(name)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
