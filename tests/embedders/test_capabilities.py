"""Capabilities: declared per family class, answered without loading a model library,
and never contradicting the protocols a class implements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from embedders import (
    Capability,
    UnknownEmbedderType,
    capabilities,
    create,
    embedder_class,
    families,
    has,
    parse_spec,
)
from embedders.capabilities import PROTOCOLS, TRAINING, implemented


@pytest.mark.parametrize("family", families())
def test_declared_capabilities_match_implemented_protocols(family: str) -> None:
    cls = embedder_class(family)
    declared = cls.capabilities
    assert isinstance(declared, frozenset) and declared, f"{family} declares no capabilities"
    assert all(isinstance(c, Capability) for c in declared)
    # A capability backed by a protocol is declared exactly when the class implements it.
    assert declared & set(PROTOCOLS) == implemented(cls), (
        f"{family}: declared {sorted(declared & set(PROTOCOLS))}, implements {sorted(implemented(cls))}"
    )


@pytest.mark.parametrize("family", families())
def test_trainable_follows_from_capabilities(family: str) -> None:
    cls = embedder_class(family)
    assert cls.trainable is bool(cls.capabilities & TRAINING)


@pytest.mark.parametrize("family", families())
def test_keyword_and_given_vectors_families_embed_no_text(family: str) -> None:
    declared = capabilities(family)
    if declared & {Capability.KEYWORD, Capability.GIVEN_VECTORS}:
        assert Capability.EMBED_TEXT not in declared


def test_known_declarations() -> None:
    assert capabilities("word2vec") >= {Capability.EMBED_TEXT, Capability.TRAIN_CORPUS, Capability.WORD_VECTORS}
    assert Capability.TRAINED_VECTORS in capabilities("doc2vec")
    assert Capability.CONTEXTUAL_TOKENS in capabilities("bilstm")
    assert Capability.TRAIN_CORPUS not in capabilities("bert") and Capability.EMBED_TEXT in capabilities("bert")
    assert capabilities("item2vec") >= {Capability.TRAIN_INTERACTIONS, Capability.TRAINED_VECTORS}
    assert Capability.EMBED_TEXT not in capabilities("item2vec")
    assert capabilities("bm25") == {Capability.KEYWORD, Capability.ANALYZE_TEXT}
    assert capabilities("vectors") == {Capability.GIVEN_VECTORS}
    # Every family that reads text shows its tokens; those that do not read text do not pretend to.
    for family in ("word2vec", "doc2vec", "bert", "bm25", "bilstm", "lsa"):
        assert Capability.ANALYZE_TEXT in capabilities(family), family
    for family in ("item2vec", "vectors"):
        assert Capability.ANALYZE_TEXT not in capabilities(family), family


def test_has_accepts_type_spec_class_and_instance() -> None:
    spec = parse_spec({"type": "word2vec"})
    for subject in ("word2vec", spec, embedder_class("word2vec"), create(spec)):
        assert has(subject, Capability.WORD_VECTORS)
        assert not has(subject, Capability.KEYWORD)
    assert has("bm25", "keyword_scoring")  # the StrEnum's value works too
    assert not has(object(), Capability.EMBED_TEXT)
    with pytest.raises(UnknownEmbedderType):
        has("no-such-family", Capability.EMBED_TEXT)


def test_capability_values_are_stable_strings() -> None:
    assert Capability.KEYWORD == "keyword_scoring"
    assert {c.value for c in Capability} >= {
        "embed_text", "train_corpus", "train_interactions", "trained_vectors", "word_vectors",
        "contextual_tokens", "keyword_scoring", "given_vectors", "analyze_text",
    }


def test_capabilities_load_no_model_library() -> None:
    code = (
        "import sys; from embedders import registry;"
        "[registry.capabilities(f) for f in registry.families()];"
        "heavy = [m for m in ('gensim', 'torch', 'sentence_transformers', 'bm25s', 'transformers') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stdout + done.stderr
