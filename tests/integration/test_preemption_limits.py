"""Preemption's limits and resumption, and low work ageing toward normal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import certifi
import pytest

from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster

BUNDLE_COPIES = 8


OneSlot = Callable[..., AbstractContextManager[Cluster]]


@pytest.fixture
def one_slot(redis_url: str, database_url: str, log_dir: Path) -> OneSlot:
    """Starts a cluster of one worker thread with the given settings."""

    def start(**settings: str) -> AbstractContextManager[Cluster]:
        return running_cluster(
            redis_url,
            database_url,
            log_dir,
            workers=1,
            threads=1,
            scheduler=True,
            **settings,
        )

    return start


@pytest.fixture
def preempt_once(one_slot: OneSlot) -> Iterator[Cluster]:
    """One slot whose running work yields to high work at most once."""
    with one_slot(CERTQ_MAX_PREEMPTIONS="1", CERTQ_PREEMPT_AFTER_SECONDS="0") as c:
        yield c


@pytest.fixture
def quick_ageing(one_slot: OneSlot) -> Iterator[Cluster]:
    """One slot, no preemption, low work ageing after one second."""
    with one_slot(CERTQ_MAX_PREEMPTIONS="0", CERTQ_LOW_AGING_SECONDS="1") as c:
        yield c


@pytest.fixture
def preempt_at_once(one_slot: OneSlot) -> Iterator[Cluster]:
    """One slot; waiting high work preempts at the next checkpoint."""
    with one_slot(CERTQ_PREEMPT_AFTER_SECONDS="0") as c:
        yield c


@pytest.fixture
def slow_retries(one_slot: OneSlot) -> Iterator[Cluster]:
    """One slot; a retry waits 3 s; waiting high work preempts at once."""
    with one_slot(
        CERTQ_PREEMPT_AFTER_SECONDS="0",
        CERTQ_RETRY_BACKOFF_BASE_MS="3000",
        CERTQ_RETRY_BACKOFF_MAX_MS="3000",
        CERTQ_RETRY_JITTER_RATIO="0",
    ) as c:
        yield c


@pytest.mark.slow
def test_stale_message_of_a_cancelled_task_preempts_nothing(
    slow_retries: Cluster,
) -> None:
    """Regression: the retry message of a task cancelled while it waited came
    due in the worker's prefetch and made running low work yield for it."""
    api = Api(slow_retries.base_url, slow_retries.create_key("stale"))
    failing = api.submit(
        "diagnostic.sleep", {"seconds": 0.1, "steps": 1, "fail_always": True}
    )
    Cluster.wait_for(
        lambda: api.task(failing)["next_attempt_at"] is not None, 15, "a retry wait"
    )
    assert api.client.post(f"/tasks/{failing}/cancel").status_code == 200

    low = api.submit("diagnostic.sleep", {"seconds": 6, "steps": 30}, priority="low")
    done = api.wait_done(low, timeout=30)

    assert done["status"] == "completed"
    assert done["preemptions"] == 0
    assert api.task(failing)["attempts"] == 1


@pytest.mark.slow
def test_task_is_preempted_no_more_than_max_preemptions(preempt_once: Cluster) -> None:
    """After its one allowed preemption a task keeps its slot until it ends;
    the sleep resumes its remaining steps instead of starting over."""
    api = Api(preempt_once.base_url, preempt_once.create_key("limit"))
    normal = api.submit("diagnostic.sleep", {"seconds": 4, "steps": 40})
    api.wait_until(normal, {"running"})

    first_high = api.submit("diagnostic.sleep", {"seconds": 0.3}, priority="high")
    assert api.wait_done(first_high, timeout=30)["status"] == "completed"
    api.wait_until(normal, {"running"})
    second_high = api.submit("diagnostic.noop", priority="high")
    second = api.wait_done(second_high, timeout=30)
    done = api.wait_done(normal, timeout=60)

    assert done["status"] == "completed"
    assert done["preemptions"] == 1
    assert second["started_at"] >= done["finished_at"]
    assert 0 < done["result"]["resumed_at"] < 40
    kinds = [e["kind"] for e in api.events_until(normal, "completed")]
    assert kinds.count("preempted") == 1


@pytest.mark.slow
def test_preempted_audit_resumes_and_reports_each_certificate_once(
    preempt_at_once: Cluster,
) -> None:
    """An audit preempted midway resumes from its checkpoint: every entry of
    the bundle appears exactly once, in order."""
    api = Api(preempt_at_once.base_url, preempt_at_once.create_key("audit"))
    bundle = Path(certifi.where()).read_text() * BUNDLE_COPIES
    expected = bundle.count("-----BEGIN CERTIFICATE-----")
    audit = api.submit("certificate.audit", {"pem_bundle": bundle})
    api.wait_until(audit, {"running"})

    high = api.submit("diagnostic.noop", priority="high")
    assert api.wait_done(high, timeout=30)["status"] == "completed"
    done = api.wait_done(audit, timeout=120)

    assert done["status"] == "completed"
    assert done["preemptions"] >= 1
    result = api.client.get(f"/tasks/{audit}/result").json()
    indexes = [entry["index"] for entry in result["certificates"]]
    assert indexes == list(range(len(indexes)))
    assert len(indexes) == expected
    assert result["totals"]["certificates"] == expected


@pytest.mark.slow
def test_low_task_waiting_past_the_ageing_limit_goes_before_newer_normal(
    quick_ageing: Cluster,
) -> None:
    """Low work that waited past the limit moves to the normal queue, ahead
    of normal work submitted after it: it cannot starve."""
    api = Api(quick_ageing.base_url, quick_ageing.create_key("ageing"))
    blocker = api.submit("diagnostic.sleep", {"seconds": 4, "steps": 4})
    api.wait_until(blocker, {"running"})
    low = api.submit("diagnostic.noop", priority="low")
    kinds = [e["kind"] for e in api.events_until(low, "aged", timeout=10)]
    assert "aged" in kinds

    normal = api.submit("diagnostic.noop")
    low_done = api.wait_done(low, timeout=30)
    normal_done = api.wait_done(normal, timeout=30)

    assert low_done["status"] == normal_done["status"] == "completed"
    assert api.task(blocker)["status"] == "completed"
    assert low_done["started_at"] < normal_done["started_at"]
