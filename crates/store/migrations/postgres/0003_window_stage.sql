-- Which pickup window the rider has been told: 'wide' (booked for a later
-- day, narrowed the evening before), 'to_tell' (narrowed, the rider still
-- has to hear it) or 'final'. Bookings made before were told their final one.
ALTER TABLE bookings ADD COLUMN window_stage TEXT NOT NULL DEFAULT 'final'
    CHECK (window_stage IN ('wide', 'to_tell', 'final'));
CREATE INDEX bookings_to_tell ON bookings (day, window_stage);
