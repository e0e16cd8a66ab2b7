"""One exception tree: every error class has a code and a status, and the one HTTP handler answers with both.

The walk covers every subclass of :class:`VecdexError` defined anywhere under embedders/, indexers/ and
service/, so a class added later is checked without touching this file; a code literal passed at a raise
site (the habit this tree replaces) is caught by scanning the source.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient

import embedders
import indexers
import service
from embedders.errors import EmbedderError, OutOfVocabulary
from indexers.errors import IndexerError
from service.api.errors import install_error_handlers
from service.errors import DocumentNotFound, SpaceNotReady, VecdexError, error_payload

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("embedders", "indexers", "service")


def _import_all() -> None:
    for package in (embedders, indexers, service):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.rsplit(".", 1)[-1] == "__main__":  # importing it would run the CLI
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional dependency this machine lacks; its errors live in errors.py anyway
                continue


def _subclasses(cls: type[VecdexError]) -> Iterator[type[VecdexError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


_import_all()
ALL = sorted(
    {c for c in _subclasses(VecdexError) if c.__module__.split(".")[0] in PACKAGES},
    key=lambda c: f"{c.__module__}.{c.__qualname__}",
)

# Classes whose constructor is not ``(message, *, field=None)``; a new one with its own signature goes here.
SPECIAL: dict[str, Callable[[type[VecdexError]], VecdexError]] = {
    "OutOfVocabulary": lambda c: c("boom", field="words[0]"),  # type: ignore[call-arg]
    "FormatError": lambda c: c(Path("queries.jsonl"), 3, "boom"),  # type: ignore[call-arg]
}


def _make(cls: type[VecdexError]) -> VecdexError:
    return SPECIAL.get(cls.__name__, lambda c: c("boom", field="where"))(cls)


def _id(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_the_walk_sees_all_three_packages() -> None:
    # Guards the walk itself: were the imports to find nothing, every per-class test would pass vacuously.
    names = {c.__name__ for c in ALL}
    assert {"SpaceNotFound", "InvalidK", "DimensionMismatch", "OutOfVocabulary", "EmptyText", "FormatError"} <= names
    assert issubclass(EmbedderError, VecdexError) and issubclass(IndexerError, VecdexError)


@pytest.mark.parametrize("cls", ALL, ids=_id)
def test_every_class_has_a_code_a_status_and_a_docstring(cls: type[VecdexError]) -> None:
    assert isinstance(cls.code, str) and cls.code and cls.code != VecdexError.code, "set a code of its own"
    assert isinstance(cls.status, int) and 400 <= cls.status < 600
    assert (cls.__doc__ or "").strip(), "say when it is raised"
    exc = _make(cls)
    assert exc.code == cls.code and exc.status == cls.status and exc.message


# Open: the embedders' InvalidVectors (user-supplied vectors, family "vectors") and the indexers' one share a
# code and a status (422); one should derive from the other (only indexers -> embedders is allowed). Listed
# here so that any further duplicate fails; delete the entry once they are one class.
KNOWN_SHARED: dict[str, list[str]] = {}


def test_one_code_means_one_class() -> None:
    # A class that keeps its parent's code (e.g. FormatError, an InvalidFile) is a refinement, not a second owner.
    owners: dict[str, list[str]] = {}
    for cls in ALL:
        if "code" in vars(cls):
            owners.setdefault(cls.code, []).append(_id(cls))
    shared = {code: classes for code, classes in owners.items() if len(classes) > 1}
    assert {c: v for c, v in shared.items() if KNOWN_SHARED.get(c) != sorted(v)} == {}, "one code, two classes"


@pytest.fixture(scope="module")
def tiny() -> TestClient:
    """A bare app with the real handlers: GET /raise/{i} raises an instance of ALL[i]."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{i}")
    def _raise(i: int) -> None:
        raise _make(ALL[i])

    @app.get("/boom")
    def _boom() -> None:
        raise RuntimeError("secret detail")

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("i", range(len(ALL)), ids=[_id(c) for c in ALL])
def test_the_http_handler_answers_with_the_class_status_and_code(tiny: TestClient, i: int) -> None:
    cls, exc = ALL[i], _make(ALL[i])
    r = tiny.get(f"/raise/{i}")
    assert r.status_code == cls.status
    assert r.json() == {"error": {"code": cls.code, "message": exc.message, "field": exc.field}}


def test_statuses_that_clients_rely_on() -> None:
    # Spot checks of the old per-tree tables, now carried by the classes themselves.
    assert OutOfVocabulary.status == 404 and EmbedderError.status == 422 and IndexerError.status == 422
    assert DocumentNotFound.status == 404 and SpaceNotReady.status == 409


def test_an_unexpected_error_is_a_500_without_its_detail(tiny: TestClient) -> None:
    r = tiny.get("/boom")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert "secret" not in r.text


def test_a_job_row_and_the_cli_carry_the_same_payload(capsys: pytest.CaptureFixture[str]) -> None:
    try:  # the CLI is becoming a package; its one mapping lives in service.cli.common there
        from service.cli.common import cli_errors
    except ImportError:
        from service.cli import cli_errors  # type: ignore[attr-defined,no-redef]
    from service.runtime.jobs import error_payload as job_payload

    exc = DocumentNotFound("document 'x' not found", field="external_id")
    assert job_payload(exc) == error_payload(exc) == {
        "code": "document_not_found",
        "message": "document 'x' not found",
        "field": "external_id",
    }
    assert job_payload(ValueError("bad"))["code"] == "internal_error"
    guard: AbstractContextManager[None] = cli_errors()
    with pytest.raises(typer.Exit) as info, guard:
        raise exc
    assert info.value.exit_code == 2
    assert "error [document_not_found] external_id: document 'x' not found" in capsys.readouterr().err


def _error_names() -> set[str]:
    return {c.__name__ for c in ALL} | {"VecdexError"}


def test_no_code_literal_is_passed_where_an_error_is_made() -> None:
    """The class is the code: ``raise X(..., code="...")`` (or building an error with one) must not come back."""
    names = _error_names()
    found: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                call = node.exc if isinstance(node, ast.Raise) else node
                if not isinstance(call, ast.Call) or not any(k.arg == "code" for k in call.keywords):
                    continue
                func = call.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if isinstance(node, ast.Raise) or name in names:
                    found.add(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not found, "error code passed as a literal (raise its class instead): " + ", ".join(sorted(found))
