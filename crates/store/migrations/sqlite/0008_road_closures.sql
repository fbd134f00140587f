-- Roads an operator closed at run time (snow, a landslide, works). Plans of
-- the days a closure touches are made around it. Times are Unix seconds.
CREATE TABLE road_closures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id INTEGER NOT NULL REFERENCES services (id),
    -- JSON: {"point": {"lat": …, "lon": …}} or {"area": [{"lat": …, "lon": …}, …]}.
    place TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    -- NULL: until reopened.
    ends_at INTEGER,
    created_at INTEGER NOT NULL,
    reopened_at INTEGER
) STRICT;
CREATE INDEX road_closures_by_service ON road_closures (service_id, starts_at);
