"""`make demo`'s program, run end to end against the real services."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
AUDITED = re.compile(r"certificates audited\W+(\d+) \(certifi's bundle holds (\d+)\)")


@pytest.mark.slow
def test_demo_audits_the_bundle_and_issues_25_certificates() -> None:
    """The demo exits 0 and its summary shows the full audit and 25 certificates."""
    completed = subprocess.run(
        [sys.executable, "-m", "certq.demo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    audited = AUDITED.search(completed.stdout)
    assert audited is not None, completed.stdout
    assert audited.group(1) == audited.group(2)
    assert "25 (25 unique serials)" in completed.stdout
