"""PostgreSQL session locks: a lease whose owner's session ended is ended at once, on any host."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agentflow.errors import ConfigurationError
from agentflow.models import RunState
from agentflow.runtime.liveness import owner_id
from agentflow.store import Store
from tests.conftest import POSTGRES_URL, _fresh_postgres
from tests.support.host import make_engine

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="set AGENTFLOW_TEST_POSTGRES_URL"),
]

SOURCE = 'def run(event, step):\n    return step.do("one", tools.echo, 1)\n'


@pytest.fixture
def stores(ledger) -> Iterator[tuple[Store, Store]]:
    assert POSTGRES_URL is not None
    url = _fresh_postgres(POSTGRES_URL)
    engine = make_engine(url)
    agent = engine.agent("acme", tools=engine.tools.names(), review="auto")
    agent.submit_plan(SOURCE)
    agent.start()
    engine.close()
    first, second = Store(url), Store(url)
    yield first, second
    first.close()
    second.close()


def test_a_lease_is_ended_once_its_owners_session_ends(stores):
    first, second = stores
    dead, live = owner_id("dead0001"), owner_id("live0001")
    (claimed,) = first.claim_due_runs(dead, 120.0)
    assert claimed.lease_owner == dead
    # While the owner's session lives, nobody takes its lease for ended.
    assert second.expire_leases_of_ended_sessions(live) == 0
    assert second.claim_due_runs(live, 120.0) == []
    first.close()  # the owner's connection ends, as when its process is killed
    # The server releases the lock as its backend for that connection exits: soon, not at once.
    deadline = time.monotonic() + 10
    while (ended := second.expire_leases_of_ended_sessions(live)) == 0:
        assert time.monotonic() < deadline, "the lock of a closed session was never released"
        time.sleep(0.01)
    assert ended == 1
    (taken,) = second.claim_due_runs(live, 120.0)
    assert (taken.id, taken.lease_owner, taken.status) == (claimed.id, live, RunState.RUNNING)
    assert taken.activations == 2
    assert taken.unsettled == 1, "the activation lost with the dead worker counts"


def test_an_owner_that_holds_no_session_lock_keeps_its_lease_until_it_lapses(stores):
    first, second = stores
    # An older worker's id (no `s-` mark): it took no lock, so a free lock proves nothing.
    unmarked = "elsewhere:123:0badc0de"
    (claimed,) = first.claim_due_runs(unmarked, 1.0)
    first.close()
    live = owner_id("live0002")
    assert second.expire_leases_of_ended_sessions(live) == 0
    assert second.claim_due_runs(live, 120.0) == []
    time.sleep(1.1)  # the lease stays the rule: it lapses
    (taken,) = second.claim_due_runs(live, 120.0)
    assert taken.id == claimed.id


def test_one_owner_lock_is_held_by_one_session_only(stores):
    first, second = stores
    first.hold_session(owner_id("same0001"))
    with pytest.raises(ConfigurationError, match="held already"):
        second.hold_session(owner_id("same0001"))
    first.close()
    deadline = time.monotonic() + 10
    while True:  # free again once the server has ended that session
        try:
            second.hold_session(owner_id("same0001"))
            break
        except ConfigurationError:
            assert time.monotonic() < deadline, "the lock of a closed session was never released"
            time.sleep(0.01)
