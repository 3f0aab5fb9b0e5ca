-- Retention: decided analyses are deleted after a while, their audit entries are not. The
-- audit table loses its foreign key; a trigger still refuses an entry of an analysis that does
-- not exist when it is written. Pruning finds the decided analyses by the time of their verdict.

ALTER TABLE audit DROP CONSTRAINT audit_analysis_id_fkey;

CREATE FUNCTION audit_analysis_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM analyses WHERE id = NEW.analysis_id) THEN
		RAISE EXCEPTION 'audit entry of no analysis %', NEW.analysis_id USING ERRCODE = 'foreign_key_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_analysis_exists BEFORE INSERT ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_analysis_exists();

CREATE INDEX analyses_decided ON analyses (updated_at, id) WHERE state <> 'running';
