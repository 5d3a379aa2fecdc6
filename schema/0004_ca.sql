-- depends: 0003_api_keys
-- The service CA, created once by the first worker and shared by all; its
-- private key is stored encrypted with CERTQ_CA_KEY_PASSPHRASE.
CREATE TABLE certificate_authority (
    id smallint PRIMARY KEY CHECK (id = 1),
    certificate_pem text NOT NULL,
    encrypted_key_pem text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
