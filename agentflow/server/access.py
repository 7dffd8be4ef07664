"""Who is calling, and what they may see: tokens, roles and per-agent scope.

An agent token sees only its own agent: another agent's plan or run is answered exactly like one
that does not exist (404, same message), so a token never learns what other agents have.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from agentflow.agent import Agent
from agentflow.engine import Engine
from agentflow.errors import NotFound
from agentflow.models import PlanVersion
from agentflow.run import Run, no_such_run
from agentflow.tokens import TokenInfo, TokenRole, Tokens

BEARER = "Bearer "


def no_such_plan(plan_id: int) -> str:
    """The one message for a plan version a caller cannot see: missing and foreign read the same."""
    return f"no plan version with id {plan_id}"


def no_such_agent(agent_id: str) -> str:
    """The one message for an agent a caller cannot see."""
    return f"no agent named {agent_id!r}"


@dataclass(frozen=True)
class Caller:
    """The caller of one request: a role, a name, and for an agent token its agent."""

    role: TokenRole
    name: str
    agent_id: str | None = None

    @classmethod
    def of(cls, token: TokenInfo) -> Caller:
        """The caller holding a stored token."""
        return cls(token.role, token.name, token.agent_id)

    def sees(self, agent_id: str) -> bool:
        """Whether this caller may see the agent's plans and runs."""
        return self.role is not TokenRole.AGENT or self.agent_id == agent_id

    def visible_agent(self, asked: str | None) -> str | None:
        """The agent filter of a list: an agent token's own agent, whatever was asked."""
        return self.agent_id if self.role is TokenRole.AGENT else asked

    def must_act(self) -> None:
        """Refuse a reviewer what only an agent or an admin does (submit, start, control)."""
        if self.role is TokenRole.REVIEWER:
            raise HTTPException(
                403, "a reviewer token reads and decides; plans and runs are an agent's to change"
            )

    def must_review(self) -> None:
        """Refuse an agent token a review decision."""
        if self.role is TokenRole.AGENT:
            raise HTTPException(
                403,
                "an agent token cannot approve or reject plans: a reviewer decides "
                "(agentflow tokens create --role reviewer --name NAME)",
            )


LOCAL = Caller(TokenRole.ADMIN, "local")
"""The caller when the server is open: on loopback with no tokens in the store."""
SHARED = Caller(TokenRole.ADMIN, "review-token")
"""The caller holding `agentflow review serve --token`'s shared token."""


def same_secret(offered: str, expected: str) -> bool:
    """Compare two secrets in constant time (any text, not only ASCII)."""
    return secrets.compare_digest(offered.encode("utf-8"), expected.encode("utf-8"))


class Access:
    """Authenticates requests against the store's tokens.

    Args:
        tokens: the store's tokens.
        open_without_tokens: let requests without a token in, as an admin named "local",
            while the store holds no token at all (a server on loopback, or `--insecure`).
        static_token: one shared secret that also signs in, as an admin (`agentflow review
            serve --token`); with it, a request without a token is never let in.
    """

    def __init__(
        self, tokens: Tokens, open_without_tokens: bool, static_token: str | None = None
    ) -> None:
        self.tokens = tokens
        self.open_without_tokens = open_without_tokens and not static_token
        self.static_token = static_token

    def caller_of(self, secret: str | None) -> Caller | None:
        """The caller presenting this secret (None: none), or None when refused."""
        if secret:
            if self.static_token and same_secret(secret, self.static_token):
                return SHARED
            token = self.tokens.authenticate(secret)
            return Caller.of(token) if token is not None else None
        if self.open_without_tokens and not self.tokens.any():
            return LOCAL
        return None

    def __call__(self, request: Request) -> Caller:
        """The FastAPI dependency: the request's caller, or 401."""
        header = request.headers.get("authorization", "")
        secret = header[len(BEARER) :].strip() if header.startswith(BEARER) else None
        caller = self.caller_of(secret)
        if caller is None:
            raise HTTPException(
                401,
                "this API needs a token: send Authorization: Bearer TOKEN "
                "(agentflow tokens create ...)"
                if not secret
                else "the token is unknown or revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return caller

    def reviewer_sign_in(self) -> Callable[[str | None], str | None]:
        """The web app's sign-in: reviewer and admin tokens, named by their token."""

        def check(secret: str | None) -> str | None:
            caller = self.caller_of(secret)
            if caller is None or caller.role is TokenRole.AGENT:
                return None
            # Without a named token, the web form's typed reviewer name is used, as before.
            return "" if caller in (LOCAL, SHARED) else caller.name

        return check


class Scope:
    """An engine's agents, plans and runs as one caller may see them."""

    def __init__(self, engine: Engine, caller: Caller) -> None:
        self.engine = engine
        self.caller = caller

    def agent(self, agent_id: str) -> Agent:
        """The agent, if the caller sees it; else NotFound."""
        if not self.caller.sees(agent_id):
            raise NotFound(no_such_agent(agent_id))
        try:
            return self.engine.get_agent(agent_id)
        except NotFound:
            raise NotFound(no_such_agent(agent_id)) from None

    def plan(self, plan_id: int) -> PlanVersion:
        """The plan version, if the caller sees its agent; else NotFound."""
        try:
            plan = self.engine.get_plan(plan_id)
        except NotFound:
            raise NotFound(no_such_plan(plan_id)) from None
        if not self.caller.sees(plan.agent_id):
            raise NotFound(no_such_plan(plan_id))
        return plan

    def run(self, run_id: str, agent_id: str | None = None) -> Run:
        """The run, if the caller sees its agent; else NotFound.

        An agent token always looks in its own agent's runs; others may name the agent
        (run ids are unique per agent) or give an id used by one agent only.
        """
        own = self.caller.visible_agent(agent_id)
        if own is not None:
            if agent_id is not None and agent_id != own:
                raise NotFound(no_such_run(own, run_id))
            try:
                return self.agent(own).get_run(run_id)
            except NotFound:
                raise NotFound(no_such_run(own, run_id)) from None
        return self.engine.get_run(run_id)
