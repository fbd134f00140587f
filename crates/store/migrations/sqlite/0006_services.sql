-- no-transaction
-- Services: one municipality's on-demand service each. Riders, vehicles,
-- stops, bookings and the service area belong to exactly one; shifts, plans
-- and recurrences belong to one through their vehicle or rider. Everything
-- written before services existed becomes service 1.
--
-- Two tables must be rebuilt (a phone number and an idempotency key are
-- unique per service now, and SQLite cannot drop an inline UNIQUE), which
-- needs foreign keys off; that cannot change inside a transaction, so this
-- migration opens its own.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    operator_phone TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- Booking rules: how many days ahead a ride may be booked, how many
    -- minutes before pickup booking closes, and the width (minutes either
    -- side) of the window told to riders who book for a later day.
    book_days_ahead INTEGER NOT NULL CHECK (book_days_ahead BETWEEN 0 AND 366),
    cutoff_minutes INTEGER NOT NULL CHECK (cutoff_minutes BETWEEN 0 AND 1440),
    prebooking_window_minutes INTEGER NOT NULL CHECK (prebooking_window_minutes BETWEEN 0 AND 720),
    -- The fare per rider, in yen (0: free).
    fare_yen INTEGER NOT NULL DEFAULT 0 CHECK (fare_yen BETWEEN 0 AND 100000)
) STRICT;
INSERT INTO services (id, name, name_kana, operator_phone, created_at, book_days_ahead, cutoff_minutes,
                      prebooking_window_minutes)
VALUES (1, 'Service 1', 'サービス1', '', CAST(strftime('%s', 'now') AS INTEGER), 366, 0, 30);

CREATE TABLE riders_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id),
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    phone TEXT NOT NULL,
    phone_digits TEXT,
    name_fold TEXT NOT NULL,
    kana_fold TEXT NOT NULL,
    home_address TEXT NOT NULL,
    home_lat REAL NOT NULL,
    home_lon REAL NOT NULL,
    wheelchair INTEGER NOT NULL CHECK (wheelchair IN (0, 1)),
    companion INTEGER NOT NULL CHECK (companion IN (0, 1)),
    walking_aid INTEGER NOT NULL CHECK (walking_aid IN (0, 1)),
    driver_notes TEXT NOT NULL,
    erased_at INTEGER,
    UNIQUE (service_id, phone_digits)
) STRICT;
INSERT INTO riders_new (id, service_id, name, name_kana, phone, phone_digits, name_fold, kana_fold,
                        home_address, home_lat, home_lon, wheelchair, companion, walking_aid,
                        driver_notes, erased_at)
SELECT id, 1, name, name_kana, phone, phone_digits, name_fold, kana_fold, home_address, home_lat,
       home_lon, wheelchair, companion, walking_aid, driver_notes, erased_at FROM riders;
DROP TABLE riders;
ALTER TABLE riders_new RENAME TO riders;

CREATE TABLE bookings_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id),
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
    idempotency_key TEXT,
    window_stage TEXT NOT NULL DEFAULT 'final' CHECK (window_stage IN ('wide', 'to_tell', 'final')),
    wide_earliest INTEGER,
    wide_latest INTEGER,
    UNIQUE (service_id, idempotency_key),
    CHECK ((origin_stop_id IS NOT NULL AND origin_lat IS NULL AND origin_lon IS NULL)
        OR (origin_stop_id IS NULL AND origin_lat IS NOT NULL AND origin_lon IS NOT NULL)),
    CHECK ((destination_stop_id IS NOT NULL AND destination_lat IS NULL AND destination_lon IS NULL)
        OR (destination_stop_id IS NULL AND destination_lat IS NOT NULL AND destination_lon IS NOT NULL))
) STRICT;
INSERT INTO bookings_new (id, service_id, rider_id, origin_stop_id, origin_lat, origin_lon, origin_label,
                          destination_stop_id, destination_lat, destination_lon, destination_label,
                          time_kind, time_unix, seats, wheelchair_places, status, day, pickup_earliest,
                          pickup_latest, expected_arrival, vehicle_id, recurrence_id, idempotency_key,
                          window_stage, wide_earliest, wide_latest)
SELECT id, 1, rider_id, origin_stop_id, origin_lat, origin_lon, origin_label, destination_stop_id,
       destination_lat, destination_lon, destination_label, time_kind, time_unix, seats,
       wheelchair_places, status, day, pickup_earliest, pickup_latest, expected_arrival, vehicle_id,
       recurrence_id, idempotency_key, window_stage, wide_earliest, wide_latest FROM bookings;
DROP TABLE bookings;
ALTER TABLE bookings_new RENAME TO bookings;
CREATE INDEX bookings_by_day ON bookings (service_id, day, status, pickup_earliest);
CREATE INDEX bookings_by_rider ON bookings (rider_id, pickup_earliest);
CREATE INDEX bookings_to_tell ON bookings (day, window_stage);

-- The service area, one row per service.
CREATE TABLE service_areas (
    service_id INTEGER PRIMARY KEY REFERENCES services (id),
    resolution INTEGER NOT NULL CHECK (resolution BETWEEN 0 AND 15)
) STRICT;
INSERT INTO service_areas (service_id, resolution) SELECT 1, resolution FROM service_area;
CREATE TABLE service_area_cells_new (
    service_id INTEGER NOT NULL REFERENCES services (id),
    cell INTEGER NOT NULL,
    PRIMARY KEY (service_id, cell)
) STRICT;
INSERT INTO service_area_cells_new (service_id, cell) SELECT 1, cell FROM service_area_cells;
DROP TABLE service_area_cells;
DROP TABLE service_area;
ALTER TABLE service_area_cells_new RENAME TO service_area_cells;

ALTER TABLE vehicles ADD COLUMN service_id INTEGER NOT NULL DEFAULT 1 REFERENCES services (id);
CREATE INDEX vehicles_by_service ON vehicles (service_id);
ALTER TABLE stops ADD COLUMN service_id INTEGER NOT NULL DEFAULT 1 REFERENCES services (id);
CREATE INDEX stops_by_service ON stops (service_id);
-- NULL: a deployment-wide token (an admin of every service).
ALTER TABLE tokens ADD COLUMN service_id INTEGER REFERENCES services (id);
UPDATE tokens SET service_id = 1 WHERE role <> 'admin';
-- NULL: an entry about the deployment, not one service.
ALTER TABLE audit ADD COLUMN service_id INTEGER DEFAULT 1;
CREATE INDEX audit_by_service ON audit (service_id, id);

COMMIT;
PRAGMA foreign_keys = ON;
