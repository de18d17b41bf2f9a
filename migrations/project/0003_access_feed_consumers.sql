-- Consumers of the access change feed inside this service keep their
-- place here, and pruning never drops a change one of them has not
-- delivered yet (a gateway that falls behind starts over instead; a
-- consumer that delivers elsewhere cannot).
--
-- The first consumer relays membership changes to the auth service, which
-- revokes the API keys of members who are removed or fall below admin. It
-- starts at the oldest change still kept, so demotions made before it
-- existed are delivered too (each delivery carries the member's current
-- role, so replaying old changes is harmless).
CREATE TABLE project.access_feed_cursors (
    consumer text PRIMARY KEY,
    position bigint NOT NULL
);

INSERT INTO project.access_feed_cursors (consumer, position)
SELECT 'auth-key-creators', pruned_through FROM project.access_change_counter;
