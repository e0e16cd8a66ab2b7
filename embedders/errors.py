"""The exception tree of the embedders package.

Every error an embedder raises on bad input or an unusable corpus derives from
:class:`EmbedderError` and carries a stable ``code`` and, where one applies, the
offending ``field`` of the spec, so the service can turn it into a 4xx without
knowing each family.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VecdexError(Exception):
    """Root of every vecdex error (embedders, indexers and the service alike).

    It lives here, in the lowest layer, so that indexers and the service can
    derive from it without importing upwards. Each subclass names one error
    condition: ``code`` is the stable string clients see, ``status`` the HTTP
    status the API answers with; an instance carries the ``message`` and, where
    one applies, the offending ``field``. HTTP, the CLI and job rows all map
    this one class (see :func:`error_payload`).
    """

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field: str | None = field


def error_payload(exc: VecdexError) -> dict[str, Any]:
    """The ``{code, message, field}`` shape an error takes over HTTP, in a job row and on the CLI."""
    return {"code": exc.code, "message": exc.message, "field": exc.field}


class EmbedderError(VecdexError):
    """Base of all embedder errors: bad input or an unusable corpus, hence 422 by default."""

    code = "embedder_error"
    status = 422


class UnknownEmbedderType(EmbedderError):
    """The spec names a ``type`` that no registered family answers to."""

    code = "unknown_embedder_type"


class CorpusTooSmall(EmbedderError):
    """The training corpus cannot support the spec (too few documents or tokens)."""

    code = "corpus_too_small"


class EmptyVocabulary(EmbedderError):
    """Training left no word in the vocabulary (e.g. ``min_count`` above every count)."""

    code = "empty_vocabulary"


class OutOfVocabulary(EmbedderError):
    """A word asked for is not in the model's vocabulary."""

    code = "out_of_vocabulary"
    status = 404

    def __init__(self, word: str, *, field: str | None = None) -> None:
        super().__init__(f"word {word!r} is not in the vocabulary", field=field)
        self.word = word


class EmptyText(EmbedderError):
    """A text has no token the model can embed (empty, or every word unknown)."""

    code = "empty_text"


class NotFitted(EmbedderError):
    """A trainable embedder was asked to embed before :meth:`fit` or :meth:`load`."""

    code = "not_fitted"


class ModelFileError(EmbedderError):
    """A saved model directory is missing, incomplete or of another family."""

    code = "model_file_error"


class ModelUnavailable(EmbedderError):
    """A pretrained model the spec names cannot be found on this machine (nothing is downloaded)."""

    code = "model_unavailable"


class NotSupported(EmbedderError):
    """The family cannot do what was asked (e.g. embed free text with item2vec, whose items
    get vectors only from interactions)."""

    code = "not_supported"


class InvalidParameter(EmbedderError):
    """A call argument is out of range (e.g. ``k < 1`` for neighbours); the spec's own
    ranges are pydantic validation errors instead."""

    code = "invalid_parameter"


class InvalidVectors(EmbedderError):
    """Vectors supplied by the user (family ``vectors``) have the wrong length, a NaN or
    infinite entry, a non-number, or (cosine) no direction; ``field`` names where they came from."""

    code = "invalid_vectors"
