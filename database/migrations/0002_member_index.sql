-- dispersy-go schema version 2: the member-keyed index holds only the
-- message types that are read by member.
--
-- Every batch of k creators dirtied about k pages of sync_member_type, and
-- WAL writes each whole page: with 1,000 creators per batch that index cost
-- three quarters of the write time. Full-sync types without sequence numbers
-- (most messages) are never read by member, so their rows leave it.
--
-- message_type.unkeyed: the engine never reads the type by member
-- (TypeRecord.Unkeyed). sync.keyed: the row is in sync_member_type; it is 0
-- only for rows of types declared unkeyed when they were stored, and
-- redeclaring such a type keyed sets it back to 1. Existing rows stay keyed.
ALTER TABLE message_type ADD COLUMN unkeyed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync ADD COLUMN keyed INTEGER NOT NULL DEFAULT 1;
DROP INDEX sync_member_type;
CREATE INDEX sync_member_type ON sync (community, member, message_id, global_time) WHERE keyed = 1;
