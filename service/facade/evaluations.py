"""Use cases of evaluation: score a collection's spaces on ground truth, list stored runs."""

from __future__ import annotations

from ..evaluation.requests import EvaluationRequest, EvaluationRun, SpaceEvaluation
from ..evaluation.runner import Evaluator
from ..evaluation.store import EvaluationPublic, list_evaluations
from .core import Core


class Evaluations:
    """Retrieval, similarity and word evaluations through the service's own query path; every run stored."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self.evaluator = Evaluator(core.db, core.searcher)
        """The runner itself, for callers that feed it parsed files (``vecdex eval``) rather than a request."""

    def run(self, *, collection: str, body: EvaluationRequest) -> EvaluationRun:
        """Refuse bad input before anything runs; store one row per evaluated space, all or none."""
        body.check()
        dataset, results = body.run(self.evaluator, collection)
        return EvaluationRun(task=body.task, dataset=dataset, results=[SpaceEvaluation.of(r) for r in results])

    def list(self, *, collection: str, space: str | None = None, task: str | None = None) -> list[EvaluationPublic]:
        """Stored runs, oldest first; 404 for an unknown collection or space."""
        with self._core.db.sessions() as session:
            return list_evaluations(session, collection, space, task)
