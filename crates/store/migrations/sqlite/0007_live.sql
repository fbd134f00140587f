-- What drivers report from the road. Each row is stored before the driver's
-- tablet hears it was received. Times are Unix seconds.
CREATE TABLE vehicle_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vehicle_id INTEGER NOT NULL REFERENCES vehicles (id),
    -- Made by the tablet; a repeat of the same id is the same event.
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    booking_id INTEGER REFERENCES bookings (id),
    at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    lat REAL,
    lon REAL,
    odometer_km REAL,
    delay_minutes INTEGER,
    delay_reason TEXT,
    can_continue INTEGER CHECK (can_continue IN (0, 1)),
    note TEXT NOT NULL,
    UNIQUE (vehicle_id, event_id)
) STRICT;
CREATE INDEX vehicle_events_by_time ON vehicle_events (vehicle_id, at);
CREATE INDEX vehicle_events_by_booking ON vehicle_events (booking_id);

CREATE TABLE vehicle_positions (
    vehicle_id INTEGER NOT NULL REFERENCES vehicles (id),
    at INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    -- Negative when unknown.
    heading_deg REAL NOT NULL,
    speed_kmh REAL NOT NULL,
    PRIMARY KEY (vehicle_id, at)
) STRICT;
