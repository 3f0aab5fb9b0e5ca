-- Leases: which replica runs each running analysis, until when (Unix nanoseconds). A row is
-- taken or renewed by one atomic upsert; an analysis without a row has no owner.

CREATE TABLE leases (
	analysis_id TEXT PRIMARY KEY REFERENCES analyses (id),
	owner       TEXT NOT NULL,
	expires     BIGINT NOT NULL
);
