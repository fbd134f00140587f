-- Service days an operator switched to winter speeds (snow on the roads):
-- plans of those days are made with the winter speed profile.
CREATE TABLE winter_days (
    service_id INTEGER NOT NULL REFERENCES services (id),
    -- Days since 1970-01-01 (Asia/Tokyo), as elsewhere.
    day INTEGER NOT NULL,
    set_at INTEGER NOT NULL,
    PRIMARY KEY (service_id, day)
) STRICT;
