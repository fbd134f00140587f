"""Reads a GTFS-Flex feed with partridge (a third-party GTFS reader) and
prints, as JSON, what a trip planner would see: routes, trips, the flex
stop times with their windows and booking rules, the booking rules, the
zones of locations.geojson and the translations. The Rust test compares
this with what the service store holds."""

import json
import sys
import zipfile

import partridge as ptg


def main(path):
    feed = ptg.load_feed(path)
    with zipfile.ZipFile(path) as z:
        locations = json.loads(z.read("locations.geojson"))
        names = z.namelist()
        # partridge reads the tables GTFS defines; the Flex ones with pandas like it does.
        import pandas as pd

        rules = pd.read_csv(z.open("booking_rules.txt"), dtype=str).fillna("")
        translations = pd.read_csv(z.open("translations.txt"), dtype=str).fillna("")
    stop_times = feed.stop_times
    out = {
        "files": sorted(names),
        "agency": feed.agency.astype(object).fillna("").astype(str).to_dict("records"),
        "routes": feed.routes.astype(object).fillna("").astype(str).to_dict("records"),
        "trips": feed.trips.astype(object).fillna("").astype(str).to_dict("records"),
        "stop_times": stop_times.astype(object).fillna("").astype(str).to_dict("records"),
        "calendar": feed.calendar.astype(object).fillna("").astype(str).to_dict("records"),
        "service_days": sum(len(v) for v in ptg.read_dates_by_service_ids(path).values()),
        "booking_rules": rules.to_dict("records"),
        "translations": translations.to_dict("records"),
        "zones": [
            {"id": f["id"], "name": f["properties"].get("stop_name"), "type": f["geometry"]["type"],
             "rings": [[[c[1], c[0]] for c in ring] for poly in f["geometry"]["coordinates"] for ring in poly[:1]]}
            for f in locations["features"]
        ],
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
