"""A review app started with a token answers only requests that carry it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agentflow.review.web import TOKEN_COOKIE, create_app


def test_requests_without_the_token_are_refused(engine):
    client = TestClient(create_app(engine, token="s3cret"))
    assert client.get("/").status_code == 401
    assert client.get("/api/plans").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/?token=wrong").status_code == 401


def test_a_bearer_token_opens_the_api(engine):
    client = TestClient(create_app(engine, token="s3cret"))
    answer = client.get("/api/plans", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200 and answer.json() == []


def test_opening_a_page_with_the_token_keeps_it_in_a_cookie(engine):
    client = TestClient(create_app(engine, token="s3cret"))
    first = client.get("/runs?status=waiting&token=s3cret", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/runs?status=waiting"
    assert TOKEN_COOKIE in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
    assert client.get("/runs?status=waiting").status_code == 200
