-- Access tokens: only a SHA-256 of each secret is kept. The role names what
-- the holder may do; the scope (at most one of vehicle_id, rider_id) what
-- it may do it to. Times are Unix seconds.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'driver', 'planner', 'rider')),
    vehicle_id INTEGER REFERENCES vehicles (id),
    rider_id INTEGER REFERENCES riders (id),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;

-- Who read or changed which rider or booking, when, through which call.
-- Rows are only ever added.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    token_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    rpc TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('read', 'change')),
    rider_id INTEGER,
    booking_id INTEGER
) STRICT;
CREATE INDEX audit_rider ON audit (rider_id, at);
CREATE INDEX audit_booking ON audit (booking_id, at);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

-- When a rider's personal data was erased on request (APPI); the row stays
-- so the bookings keep counting in statistics.
ALTER TABLE riders ADD COLUMN erased_at INTEGER;
