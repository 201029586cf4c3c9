"""The package as installed: one import name, every folder shipped, one-way doors kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _folder_of(package: str) -> Path:
    """Where ``package``'s files live in the repository, by the package-dir mapping."""
    mapping: dict[str, str] = SETUPTOOLS["package-dir"]
    parent = max(
        (name for name in mapping if package == name or package.startswith(f"{name}.")), key=len
    )
    rest = package.removeprefix(parent).strip(".")
    return REPO / mapping[parent] / Path(*rest.split(".")) if rest else REPO / mapping[parent]


def _package_folders() -> dict[str, Path]:
    """Every folder with an ``__init__.py`` under the mapped folders, by package name."""
    found = {}
    for root in SETUPTOOLS["package-dir"]:
        top = _folder_of(root)
        for init in top.rglob("__init__.py"):
            relative = init.parent.relative_to(top)
            found[".".join([root, *relative.parts])] = init.parent
    return found


def test_every_package_folder_is_installed() -> None:
    assert sorted(SETUPTOOLS["packages"]) == sorted(_package_folders())


def _lay_out_installed(target: Path) -> Path:
    """Copy the sources into ``target/tansaku/...`` as a wheel installs them."""
    for package, folder in _package_folders().items():
        destination = target.joinpath(*package.split("."))
        destination.mkdir(parents=True, exist_ok=True)
        for source in folder.glob("*.py"):
            shutil.copy2(source, destination / source.name)
    return target


def test_the_rooms_keep_their_one_way_doors(tmp_path: Path) -> None:
    # import-linter finds a package's modules by walking its folder, and `tansaku`'s
    # folder (orchestrator/) does not hold tansaku.drivers or tansaku.simulators: it
    # analyses the installed layout instead.
    installed = _lay_out_installed(tmp_path / "site")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_folders_named_like_ours_in_the_working_directory_change_nothing(
    tmp_path: Path,
) -> None:
    for name in ("drivers", "orchestrator", "simulators"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('a foreign package')\n")
    (tmp_path / "drivers" / "base.py").write_text("raise ImportError('a foreign module')\n")
    campaign = tmp_path / "campaign.yaml"
    shutil.copy(REPO / "campaigns" / "hartmann6.yaml", campaign)
    tansaku = Path(sys.executable).with_name("tansaku")
    validated = subprocess.run(
        [str(tansaku), "validate", str(campaign)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert validated.returncode == 0, validated.stderr
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tansaku.drivers.base, tansaku.simulators.benchmarks, tansaku.campaign;"
            "print(tansaku.drivers.base.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()) == REPO / "drivers" / "base.py"
