-- noriai store schema, SQLite flavour. Keep in step with ../postgres: the
-- Rust code runs the same statements against both.
--
-- STRICT tables so a wrong type is an error, not a silent conversion.
-- Flags are INTEGER 0/1: sqlx's Any driver cannot read SQLite's BOOLEAN.
-- AUTOINCREMENT so ids are never reused, even after the newest row is gone.

CREATE TABLE riders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    phone TEXT NOT NULL,
    -- The phone's digits only; NULL when it has none, so riders without a
    -- phone do not collide on the unique index.
    phone_digits TEXT UNIQUE,
    -- Search keys: lower case, kana as katakana, full-width ASCII folded,
    -- no spaces (see fold_for_search in the Rust code).
    name_fold TEXT NOT NULL,
    kana_fold TEXT NOT NULL,
    home_address TEXT NOT NULL,
    home_lat REAL NOT NULL,
    home_lon REAL NOT NULL,
    wheelchair INTEGER NOT NULL CHECK (wheelchair IN (0, 1)),
    companion INTEGER NOT NULL CHECK (companion IN (0, 1)),
    walking_aid INTEGER NOT NULL CHECK (walking_aid IN (0, 1)),
    driver_notes TEXT NOT NULL
) STRICT;

CREATE TABLE vehicles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    seats INTEGER NOT NULL CHECK (seats >= 0),
    wheelchair_places INTEGER NOT NULL CHECK (wheelchair_places >= 0),
    depot_lat REAL NOT NULL,
    depot_lon REAL NOT NULL
) STRICT;

-- Working hours in seconds after local midnight; end may pass 24:00.
CREATE TABLE shifts (
    vehicle_id INTEGER NOT NULL REFERENCES vehicles (id),
    day INTEGER NOT NULL,
    start_s INTEGER NOT NULL CHECK (start_s >= 0),
    end_s INTEGER NOT NULL CHECK (end_s >= start_s),
    PRIMARY KEY (vehicle_id, day)
) STRICT;
CREATE INDEX shifts_by_day ON shifts (day, vehicle_id);

-- One row at most: the H3 resolution of the service area.
CREATE TABLE service_area (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    resolution INTEGER NOT NULL CHECK (resolution BETWEEN 0 AND 15)
) STRICT;
-- H3 cell indexes, bit-cast from u64 (the top bit of an H3 index is 0).
CREATE TABLE service_area_cells (
    cell INTEGER PRIMARY KEY
) STRICT;

CREATE TABLE stops (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL
) STRICT;

CREATE TABLE recurrences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rider_id INTEGER NOT NULL REFERENCES riders (id),
    description TEXT NOT NULL
) STRICT;

-- A place is either a stop (stop_id set) or a point (lat and lon set).
CREATE TABLE bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rider_id INTEGER NOT NULL REFERENCES riders (id),
    origin_stop_id INTEGER REFERENCES stops (id),
    origin_lat REAL,
    origin_lon REAL,
    origin_label TEXT NOT NULL,
    destination_stop_id INTEGER REFERENCES stops (id),
    destination_lat REAL,
    destination_lon REAL,
    destination_label TEXT NOT NULL,
    time_kind TEXT NOT NULL CHECK (time_kind IN ('depart_after', 'arrive_by')),
    time_unix INTEGER NOT NULL,
    seats INTEGER NOT NULL CHECK (seats >= 0),
    wheelchair_places INTEGER NOT NULL CHECK (wheelchair_places >= 0),
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
    day INTEGER NOT NULL,
    pickup_earliest INTEGER NOT NULL,
    pickup_latest INTEGER NOT NULL,
    expected_arrival INTEGER NOT NULL,
    vehicle_id INTEGER NOT NULL REFERENCES vehicles (id),
    recurrence_id INTEGER REFERENCES recurrences (id),
    -- NULL when the client sent no key, so keyless bookings do not collide.
    idempotency_key TEXT UNIQUE,
    CHECK ((origin_stop_id IS NOT NULL AND origin_lat IS NULL AND origin_lon IS NULL)
        OR (origin_stop_id IS NULL AND origin_lat IS NOT NULL AND origin_lon IS NOT NULL)),
    CHECK ((destination_stop_id IS NOT NULL AND destination_lat IS NULL AND destination_lon IS NULL)
        OR (destination_stop_id IS NULL AND destination_lat IS NOT NULL AND destination_lon IS NOT NULL))
) STRICT;
CREATE INDEX bookings_by_day ON bookings (day, status, pickup_earliest);
CREATE INDEX bookings_by_rider ON bookings (rider_id, pickup_earliest);

-- A stored plan of one vehicle on one day. The row also serialises writers:
-- every plan change first bumps `revision` (a row lock on PostgreSQL).
CREATE TABLE vehicle_day_plans (
    vehicle_id INTEGER NOT NULL REFERENCES vehicles (id),
    day INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (vehicle_id, day)
) STRICT;

-- The stops of a plan in visiting order. A booking is picked up once and
-- dropped off once in all plans together.
CREATE TABLE plan_stops (
    vehicle_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    position INTEGER NOT NULL,
    booking_id INTEGER NOT NULL REFERENCES bookings (id),
    action TEXT NOT NULL CHECK (action IN ('pickup', 'dropoff')),
    eta INTEGER NOT NULL,
    PRIMARY KEY (vehicle_id, day, position),
    FOREIGN KEY (vehicle_id, day) REFERENCES vehicle_day_plans (vehicle_id, day) ON DELETE CASCADE,
    UNIQUE (booking_id, action)
) STRICT;
CREATE INDEX plan_stops_by_day ON plan_stops (day);
