"""PostgreSQL access for the service CA: created once, shared by all workers."""

from __future__ import annotations

import asyncpg

from certq.ca import CertificateAuthority, create_ca, encrypt_private_key, load_ca


class CaRepository:
    """The single-row `certificate_authority` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._certificate_pem: bytes | None = None

    async def certificate_pem(self) -> bytes | None:
        """The CA certificate, or None before the first worker created it."""
        # The row is written once and never changes: read it until found.
        if self._certificate_pem is None:
            value = await self._pool.fetchval(
                "SELECT certificate_pem FROM certificate_authority WHERE id = 1"
            )
            self._certificate_pem = value.encode() if value is not None else None

        return self._certificate_pem

    async def load_or_create(
        self, passphrase: bytes, common_name: str
    ) -> CertificateAuthority:
        """Load the CA; the first caller creates it, later callers read it."""
        row = await self._stored()
        if row is None:
            candidate = create_ca(common_name)
            await self._pool.execute(
                "INSERT INTO certificate_authority "
                "(id, certificate_pem, encrypted_key_pem) VALUES (1, $1, $2) "
                "ON CONFLICT (id) DO NOTHING",
                candidate.certificate_pem.decode(),
                encrypt_private_key(candidate, passphrase).decode(),
            )
            # Another worker may have won the race: read the one stored.
            row = await self._stored()
        assert row is not None

        return load_ca(
            row["certificate_pem"].encode(),
            row["encrypted_key_pem"].encode(),
            passphrase,
        )

    async def _stored(self) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._pool.fetchrow(
            "SELECT certificate_pem, encrypted_key_pem FROM certificate_authority "
            "WHERE id = 1"
        )
        return row
