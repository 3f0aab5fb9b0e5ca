-- Retention: decided analyses are deleted after a while, their audit entries are not. The
-- audit table is rebuilt without its foreign key (SQLite cannot drop one), keeping its rows
-- and ids; a trigger still refuses an entry of an analysis that does not exist when it is
-- written. Pruning finds the decided analyses by the time of their verdict.

CREATE TABLE audit_kept (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	analysis_id TEXT NOT NULL, -- may name a pruned analysis
	action      TEXT NOT NULL,
	decision    TEXT NOT NULL,
	by_whom     TEXT NOT NULL,
	token       TEXT NOT NULL,
	why         TEXT NOT NULL,
	at          INTEGER NOT NULL
);
INSERT INTO audit_kept (id, analysis_id, action, decision, by_whom, token, why, at)
	SELECT id, analysis_id, action, decision, by_whom, token, why, at FROM audit;
DROP TABLE audit;
ALTER TABLE audit_kept RENAME TO audit;
CREATE INDEX audit_analysis ON audit (analysis_id, id);

CREATE TRIGGER audit_analysis_exists BEFORE INSERT ON audit
	WHEN NOT EXISTS (SELECT 1 FROM analyses WHERE id = NEW.analysis_id)
BEGIN
	SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no such analysis');
END;

CREATE INDEX analyses_decided ON analyses (updated_at, id) WHERE state <> 'running';
