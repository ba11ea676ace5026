-- dispersy-go schema version 3: a key/value table for overlays that keep
-- state of their own outside the message store: the DHT (dht/node) keeps
-- the values it holds, its routing table and its blacklist here, so a
-- restarted node serves what it held before.
--
-- namespace: the overlay's namespace (the DHT's is "dht/<community id>/..."),
-- key and value: the overlay's bytes.
CREATE TABLE kv (
    namespace TEXT NOT NULL,
    key       BLOB NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
