"""`agentflow tokens create|list|revoke` as a subprocess, and what the store keeps of a token."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from agentflow import Engine
from agentflow.tokens import Tokens
from tests.support.serve import launched

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentflow.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_tokens_are_created_listed_and_revoked_and_stored_hashed(tmp_path):
    path = tmp_path / "tokens.db"
    db = f"sqlite:///{path}"
    with Engine(db) as engine:
        engine.agent("acme")

    created = cli("tokens", "create", "--agent", "acme", "--json", "--db", db)
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["token"].startswith("aft_") and token["role"] == "agent"
    assert token["agent_id"] == "acme" and token["name"] == "acme"

    reviewer = json.loads(
        cli("tokens", "create", "--role", "reviewer", "--name", "dana", "--json", "--db", db).stdout
    )
    listed = json.loads(cli("tokens", "list", "--json", "--db", db).stdout)
    assert [(t["role"], t["name"]) for t in listed] == [("agent", "acme"), ("reviewer", "dana")]
    assert all("token" not in t for t in listed)

    with sqlite3.connect(path) as conn:
        stored = [r[0] for r in conn.execute("SELECT secret_sha256 FROM api_tokens")]
    assert hashlib.sha256(token["token"].encode()).hexdigest() in stored
    assert token["token"] not in path.read_bytes().decode("latin-1")

    assert cli("tokens", "revoke", reviewer["id"], "--db", db).returncode == 0
    with Engine(db) as engine:
        assert Tokens(engine).authenticate(reviewer["token"]) is None
        assert Tokens(engine).authenticate(token["token"]).agent_id == "acme"
    assert [t["name"] for t in json.loads(cli("tokens", "list", "--json", "--db", db).stdout)] == [
        "acme"
    ]


def test_token_usage_errors_exit_2_and_unknown_agents_exit_1(tmp_path):
    db = f"sqlite:///{tmp_path / 'tokens.db'}"
    assert cli("tokens", "create", "--db", db).returncode == 2
    assert cli("tokens", "create", "--role", "boss", "--db", db).returncode == 2
    missing = cli("tokens", "create", "--agent", "nobody", "--db", db)
    assert missing.returncode == 1 and "nobody" in missing.stdout
    assert cli("tokens", "revoke", "tok_missing", "--db", db).returncode == 1


def test_serving_beyond_loopback_needs_a_token(tmp_path):
    refused = cli("serve", "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path / 'open.db'}")
    assert refused.returncode == 2 and "tokens create" in refused.stdout


def test_review_serve_is_the_same_server_and_takes_its_shared_token(tmp_path):
    db = f"sqlite:///{tmp_path / 'review.db'}"
    with launched("review", "serve", "--db", db, "--token", "s3cret") as base:
        signed = {"Authorization": "Bearer s3cret"}
        assert httpx.get(f"{base}/api/v1/plans", headers=signed).status_code == 200
        assert httpx.get(f"{base}/api/v1/plans").status_code == 401
        odd = {"Authorization": "Bearer s3cr\u00e9t".encode()}
        assert httpx.get(f"{base}/api/v1/plans", headers=odd).status_code == 401
        assert httpx.get(f"{base}/", headers=odd).status_code == 401
        assert httpx.get(f"{base}/").status_code == 401
        opened = httpx.get(f"{base}/?token=s3cret", follow_redirects=False)
        assert (
            opened.status_code == 303 and "agentflow_review_token" in opened.headers["set-cookie"]
        )
