"""Packages that export their torch-backed parts lazily (``nacre._lazy``) still export every name they list."""

import importlib

import pytest

PACKAGES = ["nacre.algos.pearl", "nacre.algos.macaw", "nacre.algos.mtft", "nacre.algos.maml_trpo",
            "nacre.algos.promp", "nacre.algos.rl2", "nacre.algos.maesn", "nacre.datasets"]  # fmt: skip


@pytest.mark.parametrize("name", PACKAGES)
def test_every_listed_name_resolves_to_its_module_object(name):
    package = importlib.import_module(name)
    for attr in package.__all__:
        value = getattr(package, attr)
        assert value is getattr(package, attr)  # kept after the first use
        assert attr in dir(package)
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        package.NoSuchThing  # noqa: B018
