"""Model calls: litellm for real providers, and the protocol scripted and recorded models follow.

This is the only module that imports litellm, and only inside functions: the import takes
seconds, and nothing but a real model call needs it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agentflow.errors import ModelUnavailable

#: The environment variable that names the default model.
MODEL_ENV = "AGENTFLOW_MODEL"

Message = dict[str, str]

# litellm's errors that mean "this model cannot answer now": misconfiguration or an outage.
_UNAVAILABLE_ERRORS = (
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "BadRequestError",
    "APIConnectionError",
    "Timeout",
    "RateLimitError",
    "ServiceUnavailableError",
    "InternalServerError",
    "BadGatewayError",
    "APIError",
)


@dataclass(frozen=True)
class ModelReply:
    """One answer of a model, with what it cost.

    Attributes:
        text: the reply's text.
        model: the model that answered.
        tokens_in: prompt tokens.
        tokens_out: completion tokens.
        cost: the price in USD, when the provider's price is known.
        latency_ms: wall time of the call.
    """

    text: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: float | None
    latency_ms: float


@runtime_checkable
class PlannerModel(Protocol):
    """What the planner needs of a model: a name, and a sync and an async completion."""

    name: str

    def complete(self, messages: list[Message]) -> ModelReply:
        """Answer a chat conversation."""
        ...

    async def acomplete(self, messages: list[Message]) -> ModelReply:
        """Answer a chat conversation without blocking the event loop."""
        ...


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token), for models that report none."""
    return max(1, (len(text) + 3) // 4)


def import_litellm() -> Any:
    """Import litellm without letting it fetch its price map from the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


class LiteLLMModel:
    """A model reached through litellm (any provider litellm supports).

    Args:
        name: the litellm model name, e.g. `gpt-4o-mini` or `anthropic/claude-3-5-haiku-latest`.
        completion_kwargs: extra arguments for `litellm.completion` (`temperature`, `api_base`,
            `mock_response`, ...).
    """

    def __init__(self, name: str, completion_kwargs: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.completion_kwargs = dict(completion_kwargs or {})

    def __repr__(self) -> str:
        return f"LiteLLMModel({self.name!r})"

    def complete(self, messages: list[Message]) -> ModelReply:
        """Ask the model; raises ModelUnavailable when it cannot be reached or is misconfigured."""
        litellm = self._prepare()
        started = time.perf_counter()
        try:
            response = litellm.completion(
                model=self.name, messages=messages, **self.completion_kwargs
            )
        except self._errors(litellm) as exc:
            raise self._unavailable(litellm, exc) from exc
        return self._reply(litellm, response, started)

    async def acomplete(self, messages: list[Message]) -> ModelReply:
        """Ask the model through `litellm.acompletion`."""
        litellm = self._prepare()
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(
                model=self.name, messages=messages, **self.completion_kwargs
            )
        except self._errors(litellm) as exc:
            raise self._unavailable(litellm, exc) from exc
        return self._reply(litellm, response, started)

    def _prepare(self) -> Any:
        litellm = import_litellm()
        offline = "mock_response" in self.completion_kwargs
        if not offline and "api_key" not in self.completion_kwargs:
            missing = _missing_keys(litellm, self.name)
            if missing:
                raise ModelUnavailable(
                    f"model {self.name!r} needs {' and '.join(missing)}: set "
                    f"{'them' if len(missing) > 1 else 'it'} in the environment, or choose "
                    f"another model with {MODEL_ENV} or model=..."
                )
        return litellm

    @staticmethod
    def _errors(litellm: Any) -> tuple[type[BaseException], ...]:
        found = (getattr(litellm, name, None) for name in _UNAVAILABLE_ERRORS)
        return tuple(e for e in found if isinstance(e, type) and issubclass(e, BaseException))

    def _unavailable(self, litellm: Any, exc: BaseException) -> ModelUnavailable:
        missing = _missing_keys(litellm, self.name)
        hint = (
            f"set {' and '.join(missing)}"
            if missing
            else f"check the model name, its API key and that its provider is reachable "
            f"(or choose another model with {MODEL_ENV})"
        )
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return ModelUnavailable(
            f"model {self.name!r} is unavailable ({type(exc).__name__}"
            + (f": {detail}" if detail else "")
            + f"); {hint}"
        )

    def _reply(self, litellm: Any, response: Any, started: float) -> ModelReply:
        latency = (time.perf_counter() - started) * 1000
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        return ModelReply(
            text=text,
            model=str(getattr(response, "model", None) or self.name),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=_cost(litellm, response),
            latency_ms=round(latency, 3),
        )


def _missing_keys(litellm: Any, model: str) -> list[str]:
    try:
        report = litellm.validate_environment(model)
    except Exception:
        return []
    return list(report.get("missing_keys") or [])


def _cost(litellm: Any, response: Any) -> float | None:
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:
            return None
    return float(cost) if cost is not None else None


class RecordedModel:
    """Replays one recorded reply: what the planner uses when no model is configured.

    Args:
        reply: the recorded reply's text.
        goal: the goal it was recorded for.
    """

    name = "recorded"

    def __init__(self, reply: str, goal: str) -> None:
        self.reply = reply
        self.goal = goal

    def complete(self, messages: list[Message]) -> ModelReply:
        """Return the recorded reply, whatever was asked."""
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
        return ModelReply(self.reply, self.name, prompt, estimate_tokens(self.reply), 0.0, 0.0)

    async def acomplete(self, messages: list[Message]) -> ModelReply:
        """Return the recorded reply, whatever was asked."""
        return self.complete(messages)


def configured_model(
    model: str | PlannerModel | None,
    *,
    agent_model: str | None = None,
    engine_model: str | PlannerModel | None = None,
    completion_kwargs: Mapping[str, Any] | None = None,
) -> PlannerModel | None:
    """The model to ask: the argument, else the agent's, else the engine's, else `AGENTFLOW_MODEL`.

    Returns:
        A model object, or None when no model is configured anywhere.
    """
    if model is not None and not isinstance(model, str):
        if not isinstance(model, PlannerModel):
            raise TypeError(
                f"model must be a model name or an object with complete/acomplete, not {model!r}"
            )
        return model
    if not model and not agent_model and isinstance(engine_model, PlannerModel):
        return engine_model
    engine_name = engine_model if isinstance(engine_model, str) else None
    name = model or agent_model or engine_name or os.environ.get(MODEL_ENV) or None
    return LiteLLMModel(name, completion_kwargs) if name else None
