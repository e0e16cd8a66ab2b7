"""Corpora that ship inside installed packages, and the Lee similarity benchmark.

Nothing may be downloaded at run time, so the demo collection and the quality
tests use the Lee corpus that gensim installs with its test data: 300
background news documents, 50 test documents and the human similarity ratings
of every pair of the 50 (Lee, Pincombe & Welsh 2005). It is small enough to
train on in seconds and is the classic check that document vectors mean
something: a good model's cosine similarities correlate with people's ratings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np


def _test_data(name: str) -> Path:
    """Path of a file in gensim's installed test data.

    ``gensim.test.utils.datapath`` would do, but importing it loads all of gensim;
    the data folder sits at a fixed place inside the package, so find it directly.
    """
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - gensim is a dependency
        raise FileNotFoundError("gensim is not installed; its test data holds the Lee corpus")
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / name
    if not path.is_file():  # pragma: no cover - a stripped gensim install
        raise FileNotFoundError(f"{path} is missing from the gensim installation")
    return path


def _read_lines(name: str, encoding: str) -> list[str]:
    text = _test_data(name).read_text(encoding=encoding)
    return [line.strip() for line in text.splitlines() if line.strip()]


@lru_cache(maxsize=1)
def _lee_background() -> tuple[str, ...]:
    return tuple(_read_lines("lee_background.cor", "utf-8"))


@lru_cache(maxsize=1)
def _lee_test() -> tuple[str, ...]:
    # lee.cor is LATIN-1 (a '£' is byte 0xA3), not utf-8.
    return tuple(_read_lines("lee.cor", "latin-1"))


def lee_background() -> list[str]:
    """The 300 background documents of the Lee corpus (for training)."""
    return list(_lee_background())


def lee_test() -> list[str]:
    """The 50 Lee documents that people rated pairwise (for evaluation)."""
    return list(_lee_test())


@lru_cache(maxsize=1)
def _lee_human() -> np.ndarray:
    upper = np.loadtxt(_test_data("similarities0-1.txt"), dtype=np.float64)
    if upper.shape != (50, 50):  # pragma: no cover - guards against a changed data file
        raise ValueError(f"expected a 50x50 matrix, got {upper.shape}")
    # The file holds the upper triangle (and the diagonal); mirror it.
    upper = np.triu(upper)
    full = upper + upper.T - np.diag(np.diag(upper))
    full.setflags(write=False)
    return full


def lee_human_similarity() -> np.ndarray:
    """Symmetric 50x50 human similarity ratings of the :func:`lee_test` documents (0..1)."""
    return _lee_human().copy()


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarities; a zero row is similar to nothing (0), not NaN."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    return v @ v.T


def evaluate_lee(embed_fn: Callable[[Sequence[str]], np.ndarray]) -> float:
    """Pearson correlation of model cosine similarities with the human ratings.

    Args:
        embed_fn: maps the 50 test documents to a (50, dim) array, e.g. an
            embedder's ``embed_documents``.

    Returns:
        Pearson r over the 1225 pairs i < j (the diagonal would inflate it).
    """
    docs = lee_test()
    vectors = np.asarray(embed_fn(docs))
    if vectors.shape[0] != len(docs):
        raise ValueError(f"embed_fn returned {vectors.shape[0]} rows for {len(docs)} documents")
    model = cosine_matrix(vectors)
    human = _lee_human()
    i, j = np.triu_indices(len(docs), k=1)
    return float(np.corrcoef(model[i, j], human[i, j])[0, 1])
