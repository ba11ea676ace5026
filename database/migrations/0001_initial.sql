-- dispersy-go schema version 1.
--
-- Global times are stored as signed 64-bit INTEGERs (the engine never stores
-- values above 2^63-1). Member and community ids are the 20-byte ids of
-- package keys. Migrations are append-only: never edit this file once
-- released; add 0002_….sql instead.

-- Every member whose key we know; private_key only for our own members.
CREATE TABLE member (
	id          INTEGER PRIMARY KEY,
	mid         BLOB NOT NULL UNIQUE,
	public_key  BLOB,
	private_key BLOB
);

-- The communities this node has joined.
CREATE TABLE community (
	id             INTEGER PRIMARY KEY,
	cid            BLOB NOT NULL UNIQUE,
	master         BLOB NOT NULL,             -- master member's binary public key
	me             BLOB NOT NULL,             -- the member id we sign with
	auto_load      INTEGER NOT NULL DEFAULT 1,
	classification TEXT NOT NULL DEFAULT ''
);

-- The synced message types of each community, for inspection tools.
CREATE TABLE message_type (
	community INTEGER NOT NULL REFERENCES community(id),
	id        INTEGER NOT NULL,               -- the message id byte
	name      TEXT NOT NULL,
	priority  INTEGER NOT NULL,
	direction INTEGER NOT NULL,               -- policy.Direction: 0 ASC, 1 DESC, 2 RANDOM
	PRIMARY KEY (community, id)
) WITHOUT ROWID;

-- Every stored (synced) message, clustered by global time: new messages
-- (which mostly carry the highest global times) append to the end of the
-- table, bloom ranges and sync answers read consecutive rows, and the key
-- (community, global time, member) is the uniqueness constraint, Has, Get
-- and ByGlobalTimes.
CREATE TABLE sync (
	community        INTEGER NOT NULL REFERENCES community(id),
	global_time      INTEGER NOT NULL,
	member           BLOB NOT NULL,           -- creator (first author) id
	message_id       INTEGER NOT NULL,
	sequence         INTEGER NOT NULL DEFAULT 0,   -- 0: the type has none
	undone           INTEGER NOT NULL DEFAULT 0,   -- 0 live, 1 undone
	undone_by_member BLOB,                    -- the undo message's key; NULL when
	undone_by_gt     INTEGER,                 -- a permission change undid it
	hash             BLOB NOT NULL,           -- first 16 bytes of SHA-256(packet)
	packet           BLOB NOT NULL,
	PRIMARY KEY (community, global_time, member)
) WITHOUT ROWID;

-- Per member and type: LastSequence, History, Trim, SequenceCounters. The
-- only index keyed by member: a batch from k creators touches about k of
-- its pages.
CREATE INDEX sync_member_type ON sync (community, member, message_id, global_time);
-- Per member and type by sequence number, for types that have them:
-- LastSequence, BySequence.
CREATE INDEX sync_member_sequence ON sync (community, member, message_id, sequence) WHERE sequence > 0;

-- The member pair of each double-signed message, member1 <= member2
-- bytewise, so that LastSync history is kept per unordered pair.
CREATE TABLE double_signed (
	community   INTEGER NOT NULL,
	global_time INTEGER NOT NULL,
	member      BLOB NOT NULL,
	member1     BLOB NOT NULL,
	member2     BLOB NOT NULL,
	PRIMARY KEY (community, global_time, member),
	FOREIGN KEY (community, global_time, member) REFERENCES sync ON DELETE CASCADE,
	CHECK (member1 <= member2)
) WITHOUT ROWID;
CREATE INDEX double_signed_pair ON double_signed (community, member1, member2);

-- Named options (Store.Option).
CREATE TABLE option (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
