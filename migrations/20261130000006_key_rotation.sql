-- Key rotation (`/setup rotate_keys:true`): the server's previous key pairs are kept until
-- every registered peer has confirmed the new card (its next hello is sealed to the new
-- sealing key), so that what peers sealed to the old key meanwhile still opens.
ALTER TABLE servers ADD COLUMN previous_signing_key BYTEA;
ALTER TABLE servers ADD COLUMN previous_sealing_key BYTEA;
ALTER TABLE servers ADD COLUMN keys_rotated_at TIMESTAMPTZ;
ALTER TABLE servers ADD CONSTRAINT servers_previous_keys_length
    CHECK ((previous_signing_key IS NULL OR length(previous_signing_key) = 32)
       AND (previous_sealing_key IS NULL OR length(previous_sealing_key) = 32));

-- When the peer last showed that it knows our current keys.
ALTER TABLE peers ADD COLUMN key_confirmed_at TIMESTAMPTZ;
