-- The first schema: analyses, their labels, events, snapshots, verdicts, audit log, outbox
-- and the endpoints whose deliveries are held (the SQLite store's, in PostgreSQL's types).
-- Times are BIGINT Unix nanoseconds (UTC), 0 for none: exact, as the SQLite store keeps them.

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
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
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
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused: the global stream's order
	analysis_id TEXT NOT NULL REFERENCES analyses (id),
	seq         BIGINT NOT NULL,
	time        BIGINT NOT NULL,
	kind        TEXT NOT NULL,
	data        TEXT NOT NULL,
	UNIQUE (analysis_id, seq)
);

CREATE TABLE snapshots (
	analysis_id TEXT PRIMARY KEY REFERENCES analyses (id),
	data        BYTEA NOT NULL,
	at          BIGINT NOT NULL
);

CREATE TABLE verdicts (
	analysis_id TEXT PRIMARY KEY REFERENCES analyses (id), -- exactly one per analysis
	decision    TEXT NOT NULL,
	data        TEXT NOT NULL,
	at          BIGINT NOT NULL,
	revision    INTEGER NOT NULL
);

CREATE TABLE audit (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	analysis_id TEXT NOT NULL REFERENCES analyses (id),
	action      TEXT NOT NULL,
	decision    TEXT NOT NULL,
	by_whom     TEXT NOT NULL,
	token       TEXT NOT NULL,
	why         TEXT NOT NULL,
	at          BIGINT NOT NULL
);
CREATE INDEX audit_analysis ON audit (analysis_id, id);

CREATE TABLE outbox (
	id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- enqueue order
	analysis_id   TEXT NOT NULL REFERENCES analyses (id),
	event_id      TEXT NOT NULL,                                 -- the receiver's idempotency key
	target        TEXT NOT NULL,                                 -- the endpoint
	type          TEXT NOT NULL,
	timestamp     BIGINT NOT NULL,
	payload       BYTEA NOT NULL,
	state         TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	since         BIGINT NOT NULL,
	next_attempt  BIGINT NOT NULL,
	last_error    TEXT NOT NULL DEFAULT '',
	done_at       BIGINT NOT NULL DEFAULT 0,
	claimed_until BIGINT NOT NULL DEFAULT 0,
	UNIQUE (event_id, target)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt);
CREATE INDEX outbox_analysis ON outbox (analysis_id, id);

CREATE TABLE disabled_endpoints (
	target TEXT PRIMARY KEY,
	reason TEXT NOT NULL,
	at     BIGINT NOT NULL
);
