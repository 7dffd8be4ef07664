"""`agentflow.tokens.Tokens`: roles, scope, hashing and revocation, on every store."""

from __future__ import annotations

import hashlib

import pytest

from agentflow.errors import ConfigurationError, NotFound
from agentflow.store.tables import TokenRow
from agentflow.tokens import TokenRole, Tokens


def test_a_token_is_stored_as_its_hash_and_authenticates_until_revoked(engine):
    engine.agent("acme")
    tokens = Tokens(engine)
    secret, info = tokens.create("agent", agent_id="acme")
    assert info.role is TokenRole.AGENT and info.agent_id == "acme" and info.name == "acme"
    rows = engine.store.engine.connect()
    try:
        stored = [r.secret_sha256 for r in rows.execute(TokenRow.__table__.select())]
    finally:
        rows.close()
    assert stored == [hashlib.sha256(secret.encode()).hexdigest()]
    assert tokens.authenticate(secret) == info
    assert tokens.authenticate(secret + "x") is None and tokens.authenticate(None) is None
    tokens.revoke(info.id)
    assert tokens.authenticate(secret) is None
    assert tokens.list() == [] and [t.id for t in tokens.list(include_revoked=True)] == [info.id]
    with pytest.raises(NotFound):
        tokens.revoke(info.id)


def test_roles_and_scope(engine):
    engine.agent("acme")
    tokens = Tokens(engine)
    _, reviewer = tokens.create("reviewer", name="dana")
    _, admin = tokens.create(TokenRole.ADMIN)
    _, agent = tokens.create("agent", agent_id="acme")
    assert reviewer.can_review and admin.can_review and not agent.can_review
    assert agent.sees_agent("acme") and not agent.sees_agent("globex")
    assert reviewer.sees_agent("globex") and admin.name == "admin"
    assert tokens.any()


@pytest.mark.parametrize(
    ("role", "options", "error"),
    [
        ("agent", {}, ConfigurationError),
        ("agent", {"agent_id": "nobody"}, NotFound),
        ("reviewer", {"agent_id": "acme"}, ConfigurationError),
        ("boss", {}, ConfigurationError),
        ("reviewer", {"name": "has space"}, ConfigurationError),
    ],
)
def test_malformed_tokens_are_refused(engine, role, options, error):
    engine.agent("acme")
    with pytest.raises(error):
        Tokens(engine).create(role, **options)
    assert not Tokens(engine).any()
