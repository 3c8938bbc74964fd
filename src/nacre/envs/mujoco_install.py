"""Import MuJoCo (and check it against Meta-World) with one-line errors that say how to repair the install.

Two broken installs are common (docs/metaworld.md):

* ``pip install metaworld`` after nacre: metaworld 3.1.1 pins ``mujoco==3.3.0``; pip replaces the ``mujoco`` 4
  wrapper but leaves the files of the separate ``mujoco-core`` 4 package inside the ``mujoco`` directory, so
  ``import mujoco`` fails with ``OSError: libmujoco.so.4.0.0 ...`` while ``pip check`` reports nothing;
* MuJoCo 4 upgraded in after metaworld: metaworld 3.1.1 then fails inside its constructors
  (``reset_mocap_welds``: MuJoCo 4's equality data has 12 entries per row, metaworld writes 11).

Both are reported as :class:`MujocoInstallError`, a :class:`~nacre.envs.registry.TaskDistributionError`, so the
CLI prints ``nacre: error: ...`` with the repair command instead of a traceback.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import sys
from types import ModuleType

from nacre.envs.registry import TaskDistributionError

#: the MuJoCo that metaworld 3.1.1 requires (its own pin)
METAWORLD_MUJOCO = "3.3.0"
#: the command that repairs either broken install into metaworld's combination
REPAIR_COMMAND = f'pip uninstall -y mujoco mujoco-core mujoco-studio && pip install "mujoco=={METAWORLD_MUJOCO}"'


class MujocoInstallError(TaskDistributionError):
    """MuJoCo cannot be imported, or its version does not fit the installed metaworld."""


def import_mujoco() -> ModuleType:
    """``import mujoco``; a broken install raises :class:`MujocoInstallError` naming the repair command."""
    if "mujoco" in sys.modules and getattr(sys.modules["mujoco"], "MjModel", None) is not None:
        return sys.modules["mujoco"]
    try:
        return importlib.import_module("mujoco")
    except ModuleNotFoundError:
        raise
    except (OSError, ImportError) as exc:  # a missing or mismatched libmujoco.so / .dylib / .dll
        sys.modules.pop("mujoco", None)  # a half-imported package must not be found next time
        raise MujocoInstallError(broken_message(exc)) from None


def broken_message(exc: BaseException) -> str:
    """The one-line message for a MuJoCo that fails to import."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    versions = ", ".join(f"{name} {v}" for name, v in installed_versions().items() if v) or "none found"
    hint = ""
    if "4." in first or installed_versions().get("mujoco-core"):
        hint = " (typically: metaworld installed after nacre left mujoco-core 4 files inside mujoco 3.3.0)"
    return (f"MuJoCo is installed but cannot be imported ({type(exc).__name__}: {first[:160]}; installed: "
            f"{versions}){hint}. Repair it with: {REPAIR_COMMAND}")  # fmt: skip


def installed_versions() -> dict[str, str | None]:
    """Versions pip has recorded for the MuJoCo packages and metaworld (``None`` if not installed)."""
    out: dict[str, str | None] = {}
    for name in ("mujoco", "mujoco-core", "metaworld"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def required_mujoco(package: str = "metaworld") -> str | None:
    """The exact MuJoCo version ``package`` pins (``mujoco==X``), from its installed metadata, else ``None``."""
    try:
        requires = importlib.metadata.requires(package) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for req in requires:
        match = re.match(r"^\s*mujoco\s*==\s*([0-9][0-9.]*)\s*(;.*)?$", req)
        if match and not (match.group(2) and "extra" in match.group(2)):
            return match.group(1)
    return None


def check_metaworld_mujoco(mujoco_version: str, required: str | None) -> None:
    """Raise :class:`MujocoInstallError` if the loaded MuJoCo is not the one metaworld pins."""
    if required is None or mujoco_version == required:
        return
    raise MujocoInstallError(
        f"metaworld needs mujoco=={required} but MuJoCo {mujoco_version} is loaded (metaworld fails on MuJoCo 4 "
        f"in reset_mocap_welds). Repair it with: {REPAIR_COMMAND.replace(METAWORLD_MUJOCO, required)}"
    )


def mujoco_version() -> str | None:
    """The version of the MuJoCo in use: the loaded module's if imported, else pip's record (no import)."""
    module = sys.modules.get("mujoco")
    version = getattr(module, "__version__", None) if module is not None else None
    return version or installed_versions().get("mujoco")
