-- The web console's live view: a statement that writes a job's stages notifies channel
-- ytauto_change when its transaction commits (the console LISTENs; workers do not). A job
-- becoming queued already notifies ytauto_work, which the console hears too.
CREATE FUNCTION ytauto_stages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ytauto_change', '');
    RETURN NULL;
END $$;
CREATE TRIGGER job_stages_changed AFTER INSERT OR UPDATE OR DELETE ON job_stages
    FOR EACH STATEMENT EXECUTE FUNCTION ytauto_stages_changed();
