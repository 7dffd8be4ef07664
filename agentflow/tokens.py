"""API tokens with roles: what `agentflow serve` and `agentflow mcp` accept from callers.

A token is a random secret shown once, at creation; the store keeps only its SHA-256. Roles:

- `agent`: acts for one agent only: submits and checks its plans, starts and reads its runs,
  sends them events and controls them. It never approves, and another agent's plans and runs
  answer "not found", exactly like ones that do not exist.
- `reviewer`: reads every agent's plans and runs, approves and rejects plans; each decision is
  recorded under the token's name.
- `admin`: everything.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from agentflow.agent import AGENT_ID_PATTERN
from agentflow.errors import ConfigurationError, NotFound
from agentflow.models import to_datetime
from agentflow.store.tables import TokenRow
from agentflow.store.tokens import TokenStore

if TYPE_CHECKING:
    from agentflow.engine import Engine

TOKEN_PREFIX = "aft_"


class TokenRole(StrEnum):
    """What a token may do."""

    AGENT = "agent"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class TokenInfo(BaseModel):
    """A stored token as people see it: never its secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: TokenRole
    agent_id: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def can_review(self) -> bool:
        """Whether the token may approve and reject plans."""
        return self.role in (TokenRole.REVIEWER, TokenRole.ADMIN)

    def sees_agent(self, agent_id: str) -> bool:
        """Whether the token may see this agent's plans and runs."""
        return self.role is not TokenRole.AGENT or self.agent_id == agent_id


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        role=TokenRole(row.role),
        agent_id=row.agent_id,
        created_at=to_datetime(row.created_at),  # type: ignore[arg-type]
        revoked_at=to_datetime(row.revoked_at),
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Tokens:
    """The API tokens of an engine's store.

    Example:
        >>> secret, info = Tokens(engine).create(TokenRole.REVIEWER, name="dana")  # doctest: +SKIP
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rows = TokenStore(engine.store)

    def create(
        self, role: TokenRole | str, *, agent_id: str | None = None, name: str | None = None
    ) -> tuple[str, TokenInfo]:
        """Make a token; returns (its secret, shown only now; what is stored about it).

        Raises:
            ConfigurationError: an `agent` token without an agent id, or an agent id with
                another role, or a malformed name.
            NotFound: the agent does not exist.
        """
        try:
            role = TokenRole(role)
        except ValueError:
            raise ConfigurationError(
                f"token role {role!r} is not one of {', '.join(r.value for r in TokenRole)}"
            ) from None
        if role is TokenRole.AGENT:
            if not agent_id:
                raise ConfigurationError("an agent token needs the agent it acts for (--agent ID)")
            self._engine.get_agent(agent_id)
        elif agent_id:
            raise ConfigurationError(f"a {role} token is not bound to an agent; drop --agent")
        chosen = (name or agent_id or role.value).strip()
        if not AGENT_ID_PATTERN.match(chosen):
            raise ConfigurationError(
                f"token name {chosen!r} must be 1-128 letters, digits or ._:@- "
                "and start with a letter or digit"
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + uuid.uuid4().hex[:12]
        row = self._rows.add(token_id, chosen, role.value, agent_id, _digest(secret))
        return secret, _info(row)

    def list(self, include_revoked: bool = False) -> list[TokenInfo]:
        """The tokens, oldest first (live ones only unless `include_revoked`)."""
        return [_info(r) for r in self._rows.all(include_revoked)]

    def revoke(self, token_id: str) -> None:
        """Revoke a token: it is refused from now on.

        Raises:
            NotFound: no live token has this id.
        """
        if not self._rows.revoke(token_id):
            raise NotFound(f"no live token with id {token_id!r}")

    def authenticate(self, secret: str | None) -> TokenInfo | None:
        """The live token with this secret, or None."""
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        row = self._rows.by_secret_hash(_digest(secret))
        return _info(row) if row is not None else None

    def any(self) -> bool:
        """Whether the store holds at least one live token."""
        return self._rows.any_live()
