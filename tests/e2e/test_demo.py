"""`make demo`'s program, run end to end against the real services."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
AUDITED = re.compile(r"certificates audited\W+(\d+) \(certifi's bundle holds (\d+)\)")


def _run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certq.demo"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.slow
def test_demo_audits_the_bundle_and_issues_25_certificates_twice_in_a_row(
    redis_url: str, database_url: str, redis_namespace: str
) -> None:
    """The demo exits 0 with the full audit and 25 certificates, and again."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "CERTQ_REDIS_NAMESPACE": redis_namespace,
    }

    for _ in range(2):
        completed = _run_demo(env)

        assert completed.returncode == 0, completed.stdout + completed.stderr
        audited = AUDITED.search(completed.stdout)
        assert audited is not None, completed.stdout
        assert audited.group(1) == audited.group(2)
        assert "25 (25 unique serials)" in completed.stdout
