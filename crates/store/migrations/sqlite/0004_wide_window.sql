-- The wide pickup window a rider was told when booking for a later day,
-- kept after the evening narrows it so operators can see both. NULL for
-- bookings that were told their final window at once.
ALTER TABLE bookings ADD COLUMN wide_earliest INTEGER;
ALTER TABLE bookings ADD COLUMN wide_latest INTEGER;
UPDATE bookings SET wide_earliest = pickup_earliest, wide_latest = pickup_latest
    WHERE window_stage = 'wide';
