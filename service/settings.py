"""Service settings, read from ``VECDEX_*`` environment variables (or a ``.env`` file).

One typed object instead of scattered ``os.environ`` reads, so the README's
configuration table and the code cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
        1000,
        ge=1,
        description="Fewest changes applied since a space's last snapshot before it saves another: it saves once they "
        "are also a quarter of its index or a minute has passed (service.runtime.spaces, snapshot_due).",
    )
    worker_poll_seconds: float = Field(1.0, gt=0, description="How often an idle worker looks for queued jobs.")
    job_heartbeat_timeout: float = Field(
        120.0, gt=0, description="A running job whose heartbeat is older than this is considered dead and requeued."
    )
    embedded_worker: bool = Field(True, description="`vecdex serve` runs a job worker thread in-process.")
    milvus_uri: str | None = Field(
        None, description="Milvus for spaces with index backend milvus; default the milvus-lite file <data_dir>/milvus.db."
    )

    # --- running it on a network (README "Running it on a network") ---
    # API keys: once any key exists every route but /healthz and /readyz needs a bearer key. With none, the
    # server serves loopback openly and refuses another bind address unless auth is "off" on purpose.
    auth: Literal["on", "off"] = Field(
        "on", description="'on': keys are enforced once one exists; 'off': no authentication at all (trusted network only)."
    )

    # Quotas: what one request may ask a worker to do, and how big a document's metadata may be.
    max_dim: int = Field(
        1024, ge=1, description="Largest dimension (dim, bilstm projection_dim) a spec may ask for; given vectors exempt."
    )
    max_epochs: int = Field(200, ge=1, description="Most passes over the corpus (epochs, infer_epochs) a spec may ask for.")
    max_layers: int = Field(4, ge=1, description="Most stacked layers (bilstm num_layers, highway_layers) a spec may ask.")
    max_hidden: int = Field(2048, ge=1, description="Largest bilstm hidden_dim, and character-CNN width (sum of filters).")
    max_queued_jobs: int = Field(8, ge=1, description="Most queued or running jobs per collection.")
    max_metadata_depth: int = Field(16, ge=1, le=64, description="Deepest nesting of a document's metadata.")
    max_metadata_keys: int = Field(256, ge=1, description="Most metadata keys per document (all levels).")
    max_metadata_value_bytes: int = Field(65536, ge=16, description="Largest metadata string value (UTF-8 bytes).")
    max_schema_fields: int = Field(1024, ge=1, description="Most distinct metadata fields in one collection's schema.")
    max_window: int = Field(50, ge=1, description="Widest context window (word2vec, doc2vec, item2vec) a spec may ask.")
    max_vocab: int = Field(
        100_000, ge=1, description="Largest output vocabulary (bilstm max_size; null, meaning no cap, is refused)."
    )
    max_batch_size: int = Field(512, ge=1, description="Most texts or sentences per forward pass (batch_size: bert, bilstm).")

    # Metrics and logs.
    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics.")
    log_format: Literal["text", "json"] = Field("text", description="'json': one JSON object per log line.")
    log_level: str = Field("INFO", description="Level of the vecdex loggers (DEBUG, INFO, WARNING, ...).")

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
