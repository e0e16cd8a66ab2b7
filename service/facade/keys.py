"""Use cases of API keys: create (the secret shown once), list, revoke; who a request is; where serving is safe.

Enforcement rule (``VECDEX_AUTH=on``, the default): once any key has been
created, every request but the public probes needs one. A revoked key keeps
its row, so revoking the last key locks the API rather than reopening it to
whoever can reach it; with no key ever created the API is open, which is only
allowed on a loopback address (:meth:`Keys.check_bind`).
"""

from __future__ import annotations

import ipaddress
import logging

from sqlalchemy.exc import SQLAlchemyError

from ..errors import Forbidden, UnprotectedBind
from ..key_schemas import KeyCreate, KeyCreated, KeyPublic, Scope, covers
from ..store.keys import find_by_secret, insert_key, list_keys, revoke_key, touch
from ..store.models import ApiKey
from ..store.repository import get_collection
from .core import Core

log = logging.getLogger(__name__)


def key_view(key: ApiKey) -> KeyPublic:
    return KeyPublic(  # the schema's UtcDatetime makes SQLite's naive (UTC) date-times aware
        name=key.name,
        scope=key.scope,  # type: ignore[arg-type]
        prefix=key.prefix,
        collections=key.collections,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only reaches this machine: localhost, 127.0.0.0/8, ::1.

    Anything else (0.0.0.0, ::, a LAN address, a host name that may resolve anywhere) counts as the network.
    """
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Keys:
    """API keys with scopes (read < write < admin), optionally limited to some collections."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def create(self, *, body: KeyCreate) -> KeyCreated:
        """Store a new key (its secret's hash only) and return the secret: the one time it can be seen.

        Collections it is limited to must exist (a typo would otherwise make a key that can do nothing).
        """
        with self._core.db.session() as session:
            for name in body.collections or []:
                get_collection(session, name)
            collections = list(dict.fromkeys(body.collections)) if body.collections is not None else None
            key, secret = insert_key(session, body.name, body.scope, collections)
            created = KeyCreated(key=key_view(key), secret=secret)
        self._core.searcher.path.hot.key_created()  # committed: this process enforces keys from now on
        return created

    def list(self) -> list[KeyPublic]:
        """Every key, revoked ones included, by name; never a secret."""
        with self._core.db.session() as session:
            return [key_view(k) for k in list_keys(session)]

    def revoke(self, *, name: str) -> KeyPublic:
        """Revoke a key at once (every process looks keys up per request); 404 ``key_not_found`` for an unknown name."""
        with self._core.db.session() as session:
            return key_view(revoke_key(session, name))

    def enforced(self) -> bool:
        """Whether requests need a key now: auth is on and a key has been created (revoked or not)."""
        if self._core.settings.auth == "off":
            return False
        # The query path's prepared probe: asked on every keyless request until a key appears, and
        # run on the event loop by the key check (cheaper than the thread hop it would otherwise need).
        return self._core.searcher.path.hot.any_key()

    def identify(self, *, secret: str) -> KeyPublic | None:
        """The key this secret belongs to (revoked or not), None for an unknown one; records its use.

        One indexed SELECT by the secret's hash; ``last_used_at`` is written at most once a minute per key.
        """
        with self._core.db.sessions() as session:
            key = find_by_secret(session, secret)
            if key is None:
                return None
            view = key_view(key)
            if key.revoked_at is None:
                try:
                    if touch(session, key):
                        session.commit()
                except SQLAlchemyError:  # last_used_at is advisory: a busy database must not fail the request
                    session.rollback()
                    log.warning("could not record the use of API key %r", key.name, exc_info=True)
            return view

    def authorize(self, *, key: KeyPublic, needs: Scope, collection: str | None, per_collection: bool) -> None:
        """Raise Forbidden unless ``key`` may do what needs scope ``needs`` on ``collection``.

        ``per_collection`` says the action concerns the one ``collection`` named (None: every
        collection, e.g. ``GET /jobs`` without ``?collection=``); an action about no single
        collection (listing them all, creating one, metrics) is refused to a key limited to
        collections, since it would reach beyond them.
        """
        if not covers(key.scope, needs):
            raise Forbidden(f"this needs a key of scope {needs!r}; key {key.name!r} has scope {key.scope!r}")
        if key.collections is None:
            return
        if not per_collection:
            raise Forbidden(
                f"key {key.name!r} is limited to collections {key.collections}; this is not about one collection"
            )
        if collection is None or collection not in key.collections:
            where = f"collection {collection!r}" if collection is not None else "every collection"
            raise Forbidden(f"key {key.name!r} is limited to collections {key.collections}; this asks for {where}")

    def check_bind(self, *, host: str) -> str | None:
        """Refuse (UnprotectedBind) to serve beyond loopback with the API open; else an optional warning line.

        Open means: auth on and no key created yet. ``VECDEX_AUTH=off`` on purpose serves openly anywhere
        (a trusted network, a proxy that authenticates): allowed, with a warning to print.
        """
        if is_loopback(host):
            return None
        if self._core.settings.auth == "off":
            return f"warning: VECDEX_AUTH=off: the API on {host} answers anyone who can reach it, without a key"
        if not self.enforced():
            raise UnprotectedBind(
                f"refusing to serve on {host} with no API key: the API would be open to the network. "
                "Create one (`vecdex keys create NAME --scope admin`), serve on 127.0.0.1, "
                "or set VECDEX_AUTH=off on purpose",
                field="host",
            )
        return None
