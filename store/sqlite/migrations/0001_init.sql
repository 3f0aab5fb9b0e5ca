-- The first schema: analyses, their labels, events, snapshots, verdicts, audit log, outbox
-- and the endpoints whose deliveries are held.
-- Times are integers: Unix nanoseconds (UTC).

CREATE TABLE analyses (
	id         TEXT PRIMARY KEY,
	spec       TEXT NOT NULL,
	key        TEXT UNIQUE,          -- the idempotency key; NULL when none
	labels     TEXT NOT NULL,        -- JSON object
	envs       TEXT NOT NULL,        -- JSON object
	baseline   TEXT NOT NULL,
	candidate  TEXT NOT NULL,
	state      TEXT NOT NULL,
	phase      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX analyses_created ON analyses (created_at DESC, id DESC);
CREATE INDEX analyses_state ON analyses (state, created_at DESC);
CREATE INDEX analyses_spec ON analyses (spec, created_at DESC);

CREATE TABLE analysis_labels (
	analysis_id TEXT NOT NULL REFERENCES analyses (id),
	name        TEXT NOT NULL,
	value       TEXT NOT NULL,
	PRIMARY KEY (analysis_id, name)
);
CREATE INDEX analysis_labels_value ON analysis_labels (name, value);

CREATE TABLE events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the global stream's order
	analysis_id TEXT NOT NULL REFERENCES analyses (id),
	seq         INTEGER NOT NULL,
	time        INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	data        TEXT NOT NULL,
	UNIQUE (analysis_id, seq)
);

CREATE TABLE snapshots (
	analysis_id TEXT PRIMARY KEY REFERENCES analyses (id),
	data        BLOB NOT NULL,
	at          INTEGER NOT NULL
);

CREATE TABLE verdicts (
	analysis_id TEXT PRIMARY KEY REFERENCES analyses (id), -- exactly one per analysis
	decision    TEXT NOT NULL,
	data        TEXT NOT NULL,
	at          INTEGER NOT NULL,
	revision    INTEGER NOT NULL
);

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	analysis_id TEXT NOT NULL REFERENCES analyses (id),
	action      TEXT NOT NULL,
	decision    TEXT NOT NULL,
	by_whom     TEXT NOT NULL,
	token       TEXT NOT NULL,
	why         TEXT NOT NULL,
	at          INTEGER NOT NULL
);
CREATE INDEX audit_analysis ON audit (analysis_id, id);

CREATE TABLE outbox (
	id            INTEGER PRIMARY KEY AUTOINCREMENT, -- enqueue order
	analysis_id   TEXT NOT NULL REFERENCES analyses (id),
	event_id      TEXT NOT NULL,                     -- the receiver's idempotency key
	target        TEXT NOT NULL,                     -- the endpoint
	type          TEXT NOT NULL,
	timestamp     INTEGER NOT NULL,
	payload       BLOB NOT NULL,
	state         TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	since         INTEGER NOT NULL,
	next_attempt  INTEGER NOT NULL,
	last_error    TEXT NOT NULL DEFAULT '',
	done_at       INTEGER NOT NULL DEFAULT 0,
	claimed_until INTEGER NOT NULL DEFAULT 0,
	UNIQUE (event_id, target)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt);
CREATE INDEX outbox_analysis ON outbox (analysis_id, id);

CREATE TABLE disabled_endpoints (
	target TEXT PRIMARY KEY,
	reason TEXT NOT NULL,
	at     INTEGER NOT NULL
);
