"""A collection's documents as a re-iterable training corpus, streamed from SQL in pages.

gensim makes several passes over a corpus; each ``iter()`` runs a fresh keyset
scan so memory stays flat whatever the collection size. The id bound taken at
construction keeps every pass over the same set of documents even while new
ones arrive.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select

from embedders.base import TrainingDocument

from .db import Database
from .models import Document


class SqlCorpus:
    def __init__(self, db: Database, collection_id: int, page_size: int = 1000) -> None:
        self._db = db
        self._collection_id = collection_id
        self._page_size = page_size
        with db.session() as session:
            self._max_id = session.scalar(
                select(func.max(Document.id)).where(Document.collection_id == collection_id)
            ) or 0
            self._count = session.scalar(
                select(func.count()).select_from(Document).where(
                    Document.collection_id == collection_id, Document.id <= self._max_id
                )
            ) or 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[TrainingDocument]:
        for page in self.pages():
            yield from page

    def pages(self) -> Iterator[list[TrainingDocument]]:
        """The corpus in pages of ``page_size`` documents (the indexing pipeline's batches)."""
        after = 0
        while True:
            with self._db.sessions() as session:
                rows = session.execute(
                    select(Document.id, Document.text)
                    .where(
                        Document.collection_id == self._collection_id,
                        Document.id > after,
                        Document.id <= self._max_id,
                    )
                    .order_by(Document.id)
                    .limit(self._page_size)
                ).all()
            if not rows:
                return
            yield [TrainingDocument(id=r.id, text=r.text) for r in rows]
            after = rows[-1].id
