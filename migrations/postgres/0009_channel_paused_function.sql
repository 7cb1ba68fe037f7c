-- Whether a channel is paused, as a function the planner cannot see into, for the lease.
--
-- The lease stepped over paused channels with `NOT EXISTS (SELECT 1 FROM channel_pauses ...)`.
-- channel_pauses is small and rarely changes, so autovacuum never analyzes it, and on a table never
-- analyzed the planner guesses 810 rows: it then expected the anti-join to let about one queued job
-- through, and leased by a sequential scan and sort of every queued job instead of reading the
-- lease index in order (141 ms a lease at 60,000 queued jobs, growing with the backlog). A call of
-- this function is estimated like any opaque condition (a third of rows), so the index order with
-- LIMIT 1 stays the cheapest plan whatever the table's statistics; it is called once for each
-- job the lease looks at, an index lookup on channel_pauses' key.
CREATE FUNCTION ytauto_channel_paused(ch text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM channel_pauses WHERE channel = ch);
END $$;
