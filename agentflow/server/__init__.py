"""`agentflow serve`: the HTTP API (`/api/v1`), its reference at `/docs`, the review app at `/`."""

from agentflow.server.app import create_server

__all__ = ["create_server"]
