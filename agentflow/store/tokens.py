"""The API tokens table: create, find by the hash of a secret, list and revoke."""

from __future__ import annotations

import time

from sqlalchemy import insert, select, update

from agentflow.store.repository import Store
from agentflow.store.tables import TokenRow

_tokens = TokenRow.__table__  # type: ignore[attr-defined]


class TokenStore:
    """Stored API tokens (never their secrets: only each secret's SHA-256).

    Args:
        store: the store whose database holds the tokens.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(
        self, token_id: str, name: str, role: str, agent_id: str | None, secret_sha256: str
    ) -> TokenRow:
        """Store a new token."""
        row = TokenRow(
            id=token_id,
            name=name,
            role=role,
            agent_id=agent_id,
            secret_sha256=secret_sha256,
            created_at=time.time(),
        )
        with self._store.engine.begin() as conn:
            conn.execute(insert(_tokens).values(**row.model_dump()))
        return row

    def by_secret_hash(self, secret_sha256: str) -> TokenRow | None:
        """The live (not revoked) token whose secret has this hash."""
        query = select(_tokens).where(
            _tokens.c.secret_sha256 == secret_sha256, _tokens.c.revoked_at.is_(None)
        )
        with self._store.engine.begin() as conn:
            row = conn.execute(query).first()
        return TokenRow(**row._mapping) if row else None

    def all(self, include_revoked: bool = False) -> list[TokenRow]:
        """Every token, oldest first."""
        query = select(_tokens).order_by(_tokens.c.created_at, _tokens.c.id)
        if not include_revoked:
            query = query.where(_tokens.c.revoked_at.is_(None))
        with self._store.engine.begin() as conn:
            return [TokenRow(**r._mapping) for r in conn.execute(query)]

    def any_live(self) -> bool:
        """Whether at least one token is not revoked."""
        query = select(_tokens.c.id).where(_tokens.c.revoked_at.is_(None)).limit(1)
        with self._store.engine.begin() as conn:
            return conn.execute(query).first() is not None

    def revoke(self, token_id: str) -> bool:
        """Revoke a live token; False when there is no live token with this id."""
        with self._store.engine.begin() as conn:
            result = conn.execute(
                update(_tokens)
                .where(_tokens.c.id == token_id, _tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return bool(result.rowcount)
