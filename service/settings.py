"""Service settings, read from ``VECDEX_*`` environment variables (or a ``.env`` file).

One typed object instead of scattered ``os.environ`` reads, so the README's
configuration table and the code cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexers.factory import EngineOptions


class Settings(BaseSettings):
    """Every knob of the service. Defaults give the embedded mode: SQLite + FAISS files in ./data."""

    model_config = SettingsConfigDict(env_prefix="VECDEX_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the SQLite file and the space snapshots live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/vecdex.db. PostgreSQL: postgresql+psycopg://..."
    )
    max_k: int = Field(1000, ge=1, description="Largest k a search may ask for.")
    max_batch: int = Field(1000, ge=1, description="Most documents in one upsert request.")
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes).")
    snapshot_every: int = Field(
        1000, ge=1, description="Save a space's index snapshot after this many changes applied since the last save."
    )
    worker_poll_seconds: float = Field(1.0, gt=0, description="How often an idle worker looks for queued jobs.")
    job_heartbeat_timeout: float = Field(
        120.0, gt=0, description="A running job whose heartbeat is older than this is considered dead and requeued."
    )
    embedded_worker: bool = Field(True, description="`vecdex serve` runs a job worker thread in-process.")
    milvus_uri: str | None = Field(
        None, description="Milvus for spaces with index backend milvus; default the milvus-lite file <data_dir>/milvus.db."
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vecdex.db').resolve()}"

    @property
    def resolved_milvus_uri(self) -> str:
        """The Milvus URI, defaulting to a milvus-lite file in the data directory."""
        return self.milvus_uri or str((self.data_dir / "milvus.db").resolve())

    @property
    def engine_options(self) -> EngineOptions:
        """What index engines need from the deployment (passed to SpaceRuntimes and build_space)."""
        return EngineOptions(milvus_uri=self.resolved_milvus_uri)

    @property
    def spaces_dir(self) -> Path:
        """Root of the per-space directories (embedder model + index snapshot)."""
        return self.data_dir / "spaces"


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
