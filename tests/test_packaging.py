"""Packaging: every third-party module the installed packages import is a declared dependency, the package data
listed exists, and the generic top-level import names (kept because the project's layout is service/, indexers/,
embedders/, migrations/) collide with no other installed distribution."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = sorted({p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]})


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    return {_normal(re.match(r"[A-Za-z0-9_.-]+", req).group(0)) for req in PYPROJECT["project"]["dependencies"]}


def _imported_top_levels() -> dict[str, str]:
    """Top-level module -> one file importing it, over every module of the installed packages (absolute imports)."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    else []
                )
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def test_every_imported_distribution_is_declared() -> None:
    providers = md.packages_distributions()
    missing = []
    for module, where in sorted(_imported_top_levels().items()):
        if module in sys.stdlib_module_names or module in PACKAGES:
            continue
        dists = providers.get(module)
        assert dists, f"{module} (imported by {where}) is not installed: declare it or drop the import"
        if not {_normal(d) for d in dists} & _declared():
            missing.append(f"{module} ({', '.join(dists)}; imported by {where})")
    assert not missing, "imported but not in [project] dependencies: " + "; ".join(missing)


def test_listed_package_data_exists() -> None:
    for package, patterns in PYPROJECT["tool"]["setuptools"].get("package-data", {}).items():
        for pattern in patterns:
            assert list((REPO / package).glob(pattern)), f"package-data {package}/{pattern} matches no file"


@pytest.mark.parametrize("package", PACKAGES)
def test_top_level_names_belong_to_vecdex_alone(package: str) -> None:
    """The generic names (``service``, ``migrations``, ...) are the project's layout; installing vecdex must not
    shadow, or be shadowed by, another distribution's package of the same name in this environment."""
    owners = {_normal(d) for d in md.packages_distributions().get(package, [])}
    assert owners <= {"vecdex"}, f"top-level package {package!r} is also provided by {sorted(owners - {'vecdex'})}"
    module = __import__(package)
    assert Path(module.__file__).resolve().is_relative_to(REPO), (package, module.__file__)
