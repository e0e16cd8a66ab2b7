"""The command line is a thin door over ``service.facade.Vecdex``: it never reaches the internals.

Parsed with ``ast`` (nothing is imported), so a forbidden import inside a
command body, where the CLI keeps its lazy imports, is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import service.cli

CLI_DIR = Path(service.cli.__file__).parent
FORBIDDEN = {
    "store.repository",
    "store.models",
    "store.views",
    "store.interactions",
    "store.vector_store",
    "runtime.spaces",
    "runtime.build",
    "runtime.jobs",
    "runtime.space_admin",
    "query",
}
"""Internals of ``service`` (SQL rows, space runtimes, jobs, query paths) the CLI reaches through the facade only.
(Schema migrations, ``store.migrate``, and progress bars, ``runtime.progress``, are the CLI's own business.)"""


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def service_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module under ``service``) of every import in a CLI module, relative or absolute."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module or ""]
            elif node.level == 1:  # inside service.cli: only its own modules
                names = [f"cli.{node.module}" if node.module else "cli"]
            else:  # ..x from service/cli/*.py is service.x
                names = [node.module] if node.module else [a.name for a in node.names]
                names = [f"service.{n}" for n in names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n.removeprefix("service.")) for n in names if n.startswith("service.")]
    return out


def test_cli_modules_import_no_service_internals() -> None:
    modules = sorted(CLI_DIR.glob("*.py"))
    assert len(modules) >= 10, modules  # the package is there, not an empty glob
    bad = [
        f"{path.name}:{line}: {name}"
        for path in modules
        for line, name in service_imports(path)
        if forbidden(name)
    ]
    assert bad == []


def test_group_modules_import_only_common_of_the_cli() -> None:
    """No import cycle inside the CLI: group modules share ``common`` and never import each other."""
    for path in CLI_DIR.glob("*.py"):
        if path.name in ("__init__.py", "__main__.py", "common.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        siblings = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}
        assert siblings <= {"common"}, (path.name, siblings)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The check above can fail: a lazy relative import of the repository is reported."""
    module = tmp_path / "x.py"
    module.write_text("def f():\n    from ..store.repository import get_collection\n    import service.runtime.jobs\n")
    assert service_imports(module) == [(2, "store.repository"), (3, "runtime.jobs")]


def test_help_loads_no_heavy_module() -> None:
    """``vecdex --help`` answers without FAISS, gensim, torch or the facade (commands import lazily)."""
    code = (
        "import sys, service.cli; "
        "print(sorted(m for m in ('faiss', 'gensim', 'torch', 'sqlalchemy', 'service.facade') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
