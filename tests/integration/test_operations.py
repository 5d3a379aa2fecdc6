"""Each operation's result, produced by real workers with the shared CA."""

from __future__ import annotations

from typing import Any

import certifi
import httpx
import psycopg
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.api import Api
from tests.integration.cluster import Cluster


def _ca(cluster: Cluster) -> x509.Certificate:
    response = httpx.get(cluster.base_url + "/ca.pem")
    assert response.status_code == 200
    return x509.load_pem_x509_certificate(response.content)


def test_issued_certificate_verifies_against_ca_pem_and_carries_sans(
    api: Api, cluster: Cluster
) -> None:
    """certificate.issue signs with the service CA and keeps the requested SANs."""
    params = {
        "common_name": "www.example.test",
        "dns_names": ["www.example.test", "api.example.test"],
        "key_type": "ec-p256",
        "validity_days": 30,
    }

    task = api.wait_done(api.submit("certificate.issue", params))

    assert task["status"] == "completed", task["error"]
    leaf = x509.load_pem_x509_certificate(task["result"]["certificate_pem"].encode())
    ca = _ca(cluster)
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert sans.value.get_values_for_type(x509.DNSName) == params["dns_names"]
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert "private_key_pem" not in task["result"]


def test_every_worker_signs_with_the_same_ca(api: Api, cluster: Cluster) -> None:
    """Certificates from different runs chain to the one CA served at /ca.pem."""
    ids = [
        api.submit("certificate.issue", {"common_name": f"n{i}.example.test"})
        for i in range(4)
    ]

    leaves = [api.wait_done(i)["result"]["certificate_pem"] for i in ids]

    ca = _ca(cluster)
    for pem in leaves:
        x509.load_pem_x509_certificate(pem.encode()).verify_directly_issued_by(ca)


def test_bulk_issue_returns_one_certificate_per_subject(api: Api) -> None:
    """certificate.bulk_issue issues every subject once, in order."""
    subjects = [
        {"common_name": f"h{i}.bulk.test", "dns_names": [f"h{i}.bulk.test"]}
        for i in range(12)
    ]

    task = api.wait_done(api.submit("certificate.bulk_issue", {"subjects": subjects}))

    result = api.client.get(f"/tasks/{task['task_id']}/result").json()
    assert result["count"] == 12
    serials = [c["serial"] for c in result["certificates"]]
    assert len(set(serials)) == 12
    assert result["certificates"][0]["subject"].endswith("h0.bulk.test")


def test_audit_of_the_mozilla_bundle_reports_every_certificate(api: Api) -> None:
    """certificate.audit with source mozilla covers every cert certifi ships."""
    with open(certifi.where()) as bundle:
        expected = bundle.read().count("-----BEGIN CERTIFICATE-----")

    task = api.wait_done(api.submit("certificate.audit", {"source": "mozilla"}))

    result = api.client.get(f"/tasks/{task['task_id']}/result").json()
    assert task["status"] == "completed"
    assert result["totals"]["certificates"] == expected
    assert len(result["certificates"]) == expected


def test_audit_reports_a_malformed_entry_as_a_finding(api: Api) -> None:
    """A broken PEM block is a parse_error finding, not a failed task."""
    with open(certifi.where()) as bundle:
        first = bundle.read().split("-----END CERTIFICATE-----")[0]
    good = first[first.index("-----BEGIN") :] + "-----END CERTIFICATE-----\n"
    broken = (
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )

    task = api.wait_done(api.submit("certificate.audit", {"pem_bundle": good + broken}))

    entries = task["result"]["certificates"]
    assert task["status"] == "completed"
    assert len(entries) == 2
    assert "parse_error" in entries[1]["findings"]


def test_verify_chain_accepts_an_issued_leaf_and_refuses_a_wrong_hostname(
    api: Api, cluster: Cluster
) -> None:
    """certificate.verify_chain builds the path to the CA and checks the name."""
    issued = api.wait_done(
        api.submit("certificate.issue", {"common_name": "chain.example.test"})
    )
    leaf = issued["result"]["certificate_pem"]
    roots = httpx.get(cluster.base_url + "/ca.pem").text

    good = api.wait_done(
        api.submit(
            "certificate.verify_chain",
            {"leaf_pem": leaf, "trust_roots": roots, "hostname": "chain.example.test"},
        )
    )
    wrong = api.wait_done(
        api.submit(
            "certificate.verify_chain",
            {"leaf_pem": leaf, "trust_roots": roots, "hostname": "other.example.test"},
        )
    )
    untrusted = api.wait_done(
        api.submit(
            "certificate.verify_chain", {"leaf_pem": leaf, "trust_roots": "mozilla"}
        )
    )

    assert good["result"]["valid"] is True
    assert len(good["result"]["path"]) == 2
    assert wrong["result"]["valid"] is False
    assert wrong["result"]["reason"]
    assert untrusted["result"]["valid"] is False


@pytest.mark.parametrize(
    ("task_type", "params", "field"),
    [
        ("certificate.verify_chain", {"leaf_pem": "garbage"}, "leaf_pem"),
        ("certificate.issue", {"csr": ""}, "csr"),
        ("certificate.audit", {"pem_bundle": "garbage"}, "pem_bundle"),
    ],
)
def test_unreadable_certificate_input_is_422_naming_the_field(
    api: Api, task_type: str, params: dict[str, Any], field: str
) -> None:
    """Regression: such input was accepted, then failed when the task ran."""
    before = api.client.get("/tasks", params={"limit": 500}).json()["items"]

    answer = api.client.post("/tasks", json={"task_type": task_type, "params": params})

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["params", field]
    after = api.client.get("/tasks", params={"limit": 500}).json()["items"]
    assert len(after) == len(before)


def test_echo_and_noop_complete(api: Api) -> None:
    """diagnostic.echo returns its data unchanged; noop completes with null."""
    data = {"nested": [1, 2.5, "three", None, True], "empty": {}}

    echoed = api.wait_done(api.submit("diagnostic.echo", {"data": data}))
    nothing = api.wait_done(api.submit("diagnostic.noop"))

    assert echoed["result"] == data
    assert nothing["status"] == "completed"
    assert nothing["result"] is None


def test_key_passphrase_is_never_stored_or_shown_but_encrypts_the_key(
    api: Api, cluster: Cluster, database_url: str
) -> None:
    """The generated key comes back encrypted; the passphrase is redacted.

    Regression: the passphrase stayed in clear in the Redis task hash for the
    whole result TTL.
    """
    params = {"common_name": "secret.example.test", "key_passphrase": "correct horse"}

    task = api.wait_done(api.submit("certificate.issue", params))

    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT params FROM tasks WHERE task_id = %s", (task["task_id"],)
        ).fetchone()
    assert row is not None
    assert row[0]["key_passphrase"] == {"redacted": True}
    assert task["params"]["key_passphrase"] == {"redacted": True}
    key = serialization.load_pem_private_key(
        task["result"]["private_key_pem"].encode(), password=b"correct horse"
    )
    certificate = x509.load_pem_x509_certificate(
        task["result"]["certificate_pem"].encode()
    )
    assert key.public_key() == certificate.public_key()
    with redis.Redis.from_url(cluster.redis_url) as client:
        live = client.hgetall(f"{cluster.namespace}:task:{task['task_id']}")
    assert live, "the live state is still in Redis"
    assert not any(b"correct horse" in value for value in live.values())
