"""The machine a run records in config.json: the /proc/cpuinfo reader and the ``resumed_with`` history."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from nacre.nn.precision import cpuinfo_field
from nacre.training import loop
from nacre.training.loop import RunDirError


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="needs Linux /proc/cpuinfo")
def test_cpuinfo_field_reads_the_first_matching_line():
    first = {}
    for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            first.setdefault(key.strip(), value.strip())
    assert cpuinfo_field("model name") == first.get("model name")
    assert cpuinfo_field("flags") == first.get("flags")
    assert cpuinfo_field("no such field") is None
    if sys.platform.startswith("linux") and first.get("model name"):
        assert loop.cpu_model() == first["model name"]


def _trainer(iteration: int = 3) -> SimpleNamespace:
    return SimpleNamespace(cfg=SimpleNamespace(device="cpu"), learner=SimpleNamespace(precision="fp32"),
                           iteration=iteration)  # fmt: skip


def test_record_machine_appends_only_a_new_machine(tmp_path, monkeypatch):
    trainer = _trainer()
    here = loop.machine_description(trainer)
    (tmp_path / "config.json").write_text(json.dumps({"config": {}, "machine": here}))
    loop.record_machine(trainer, tmp_path)
    assert "resumed_with" not in json.loads((tmp_path / "config.json").read_text())

    monkeypatch.setattr(loop, "cpu_model", lambda: "Elsewhere CPU")
    loop.record_machine(_trainer(7), tmp_path)
    loop.record_machine(_trainer(9), tmp_path)  # the same other machine again: nothing new
    entries = json.loads((tmp_path / "config.json").read_text())["resumed_with"]
    assert [(e["at_iteration"], e["machine"]["cpu"]) for e in entries] == [(7, "Elsewhere CPU")]


def test_recording_into_an_unreadable_config_is_a_run_dir_error(tmp_path):
    with pytest.raises(RunDirError, match="cannot record the machine in .*config.json"):
        loop.record_machine(_trainer(), tmp_path)  # no config.json
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunDirError, match="cannot record the machine in"):
        loop.record_machine(_trainer(), tmp_path)
    assert (tmp_path / "config.json").read_text() == "{not json"  # left as it was
