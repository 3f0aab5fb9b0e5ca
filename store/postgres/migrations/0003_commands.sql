-- Commands: a person's abort or override of a running analysis, asked of any replica and
-- carried out by the one that runs it (its lease owner). Pending while taken_by is empty; done
-- once done_at is set (Unix nanoseconds), with the answer (status, result: its JSON body).

CREATE TABLE commands (
	id          BIGSERIAL PRIMARY KEY,
	analysis_id TEXT NOT NULL REFERENCES analyses (id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	decision    TEXT NOT NULL DEFAULT '',
	by_whom     TEXT NOT NULL DEFAULT '',
	token       TEXT NOT NULL DEFAULT '',
	why         TEXT NOT NULL DEFAULT '',
	created     BIGINT NOT NULL,
	taken_by    TEXT NOT NULL DEFAULT '',
	done_at     BIGINT NOT NULL DEFAULT 0,
	status      INTEGER NOT NULL DEFAULT 0,
	result      TEXT NOT NULL DEFAULT ''
);

CREATE INDEX commands_pending ON commands (analysis_id, id) WHERE taken_by = '';
