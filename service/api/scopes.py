"""Which scope every route needs, as one explicit table keyed by (method, path template).

A table rather than a rule ("GET is read"): some POSTs only read (search, recommend), some GETs
are public (the probes), and a route nobody classified must not slip through as ``read``.
``service.api.auth`` looks each request's route up here; a route missing from the table needs
``admin`` (fail closed), and ``tests/service/test_keys.py`` fails until every route of the app is in it.

Scopes nest (admin > write > read):

- ``read``: reads and queries — GETs, search, compare, hybrid, similar, recommend, words, tokens, analyze,
  stored evaluations, jobs, /metrics, embed, document vectors, /v1 (OpenAI-compatible).
- ``write``: what changes a collection's data — document and interaction upserts, patches and deletes.
- ``admin``: what changes the service's shape or queues heavy work — collections create/delete,
  spaces (create, rebuild, default, delete), job cancel, evaluation runs (up to 10,000 searches
  in one request, stored as rows), keys.

``collection`` says where a route's collection comes from, for keys limited to some collections:
``"path"`` (the ``{name}`` parameter), ``"query"`` (``?collection=``, absent meaning all),
``"job"`` (the collection of the job ``{job_id}``), or ``None``: the route is about no single
collection and a collection-limited key is refused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..key_schemas import Scope

CollectionFrom = Literal["path", "query", "job"] | None


@dataclass(frozen=True)
class Rule:
    """What a route needs: ``scope`` None means public (no key at all)."""

    scope: Scope | None
    collection: CollectionFrom = "path"


PUBLIC = Rule(None, None)
READ, WRITE, ADMIN = Rule("read"), Rule("write"), Rule("admin")
UNCLASSIFIED = Rule("admin", None)
"""What a route missing from the table gets: the strongest scope, no collection-limited key."""

C = "/collections/{name}"

ROUTES: dict[tuple[str, str], Rule] = {
    # probes and docs: public (a load balancer or a browser has no key)
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/docs-static"): PUBLIC,  # a Mount of the docs pages' JS/CSS: runs no dependency, so must be public
    # Prometheus: counts over every collection, so read and no collection-limited key
    ("GET", "/metrics"): Rule("read", None),
    # collections
    ("POST", "/collections"): Rule("admin", None),
    ("GET", "/collections"): Rule("read", None),
    ("GET", C): READ,
    ("DELETE", C): ADMIN,
    # documents
    ("POST", f"{C}/documents"): WRITE,
    ("GET", f"{C}/documents"): READ,
    ("GET", f"{C}/documents/{{external_id}}"): READ,
    ("DELETE", f"{C}/documents/{{external_id}}"): WRITE,
    ("PATCH", f"{C}/documents/{{external_id}}"): WRITE,
    ("POST", f"{C}/documents:fetch"): READ,  # several documents by id: a read, though a POST (a body of ids)
    ("POST", f"{C}/documents:delete"): WRITE,  # several documents by id: POST because DELETE takes no body
    # interactions
    ("POST", f"{C}/interactions"): WRITE,
    ("GET", f"{C}/users/{{user}}/history"): READ,
    # spaces
    ("POST", f"{C}/spaces"): ADMIN,
    ("GET", f"{C}/spaces"): READ,
    ("GET", f"{C}/spaces/{{space}}"): READ,
    ("DELETE", f"{C}/spaces/{{space}}"): ADMIN,
    ("POST", f"{C}/spaces/{{space}}/rebuild"): ADMIN,
    ("POST", f"{C}/spaces/{{space}}/default"): ADMIN,
    # jobs
    ("GET", "/jobs"): Rule("read", "query"),
    ("GET", "/jobs/{job_id}"): Rule("read", "job"),
    ("POST", "/jobs/{job_id}/cancel"): Rule("admin", "job"),
    # queries (POSTs that only read)
    ("POST", f"{C}/search"): READ,
    ("POST", f"{C}/compare"): READ,
    ("POST", f"{C}/hybrid"): READ,
    ("POST", f"{C}/documents/{{external_id}}/similar"): READ,
    ("POST", f"{C}/documents/{{external_id}}/similar/combined"): READ,
    ("GET", f"{C}/spaces/{{space}}/words/{{word}}/neighbors"): READ,
    ("POST", f"{C}/spaces/{{space}}/words/analogy"): READ,
    ("POST", f"{C}/spaces/{{space}}/tokens"): READ,
    ("POST", f"{C}/spaces/{{space}}/analyze"): READ,
    # recommendations
    ("POST", f"{C}/recommend"): READ,
    ("POST", f"{C}/users/{{user}}/recommend"): READ,
    ("GET", f"{C}/items/{{item}}/similar"): READ,
    # vectors out: embeddings of texts and stored vectors only read
    ("POST", f"{C}/spaces/{{space}}/embed"): READ,
    ("GET", f"{C}/documents/{{external_id}}/vectors"): READ,
    # OpenAI-compatible: the collection is inside ``model`` (a body field), so no collection-limited key
    ("POST", "/v1/embeddings"): Rule("read", None),
    ("GET", "/v1/models"): Rule("read", None),
    # evaluations: reading stored runs is read; a run is heavy work stored as rows
    ("GET", f"{C}/evaluations"): READ,
    ("POST", f"{C}/evaluations"): ADMIN,
    # transfer: a whole collection out (models and vectors included) or in (a new collection)
    ("GET", f"{C}/export"): ADMIN,
    ("POST", f"{C}/import"): ADMIN,  # creates collection {name} from the body
    # Keys are managed by `vecdex keys` only; routes for them would be UNCLASSIFIED (admin, unlimited
    # keys only) until listed, which is the rule they need.
}


def rule_for(method: str, path: str | None) -> Rule:
    """The rule of a route; HEAD is its GET's; anything unknown is :data:`UNCLASSIFIED`."""
    if path is None:
        return UNCLASSIFIED
    method = "GET" if method.upper() == "HEAD" else method.upper()
    return ROUTES.get((method, path), UNCLASSIFIED)


PUBLIC_PREFIXES = ("/docs-static/",)
"""Raw paths under a public Mount (the docs pages' assets)."""


def is_public_request_path(path: str) -> bool:
    """Whether a request's raw path (before routing) is a public one: a public template without parameters
    (the probes, the docs, the spec) or a file under a public mount. Every other path needs a key."""
    if path.startswith(PUBLIC_PREFIXES):
        return True
    return "{" not in path and is_public_path(path)


def is_public_path(path: str) -> bool:
    """Whether every method of this path template is public (for routes outside FastAPI's dependencies)."""
    rules = [rule for (_, p), rule in ROUTES.items() if p == path]
    return bool(rules) and all(rule.scope is None for rule in rules)
