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


def _names(requirements: list[str]) -> set[str]:
    return {_normal(re.match(r"[A-Za-z0-9_.-]+", req).group(0)) for req in requirements}


def _declared() -> set[str]:
    return _names(PYPROJECT["project"]["dependencies"])


def _imported_top_levels_of(path: Path) -> dict[str, str]:
    """Top-level module -> the file, for each absolute import in one file."""
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def _imported_top_levels() -> dict[str, str]:
    """Top-level module -> one file importing it, over every module of the installed packages."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for module, where in _imported_top_levels_of(path).items():
                found.setdefault(module, where)
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


def test_the_client_package_declares_what_it_imports() -> None:
    """clients/python is its own distribution: the core imports only its dependencies, an adapter
    module only its extra as well."""
    root = REPO / "clients" / "python"
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = _names(project["dependencies"])
    extras = {name: _names(reqs) for name, reqs in project["optional-dependencies"].items()}
    providers = md.packages_distributions()
    for path in sorted((root / "vecdex_client").glob("*.py")):
        allowed = core | extras.get(path.stem, set())
        for module, where in _imported_top_levels_of(path).items():
            if module in sys.stdlib_module_names or module == "vecdex_client":
                continue
            dists = {_normal(d) for d in providers.get(module, [])}
            assert dists & allowed, f"{where} imports {module} ({sorted(dists)}), not declared for it in {root.name}/pyproject.toml"


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
