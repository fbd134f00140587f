-- The vehicles of the demo fleet `noriai serve` creates on an empty store:
-- their shifts are kept rolling (always the next 60 days), so the README's
-- first session works on an old data directory too.
CREATE TABLE demo_vehicles (
    vehicle_id INTEGER PRIMARY KEY REFERENCES vehicles (id)
) STRICT;

-- Databases written before this table existed: the demo fleet is the one
-- with the three names the demo gave it.
INSERT INTO demo_vehicles (vehicle_id)
SELECT id FROM vehicles WHERE name IN ('Demo 1', 'Demo 2', 'Demo 3');
