//! A town's boundary as its GIS office sends it: GeoJSON (RFC 7946) with a
//! Polygon or MultiPolygon, bare or in a Feature or FeatureCollection.
//! Positions are `[longitude, latitude]`.

use noriai_model::LatLon;

/// A polygon: its outer ring, then holes.
pub type Rings = Vec<Vec<LatLon>>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoJsonError {
    #[error("it is not JSON: {0}")]
    Json(String),
    #[error("{path}: {message}")]
    Shape { path: String, message: String },
    #[error("it holds no Polygon or MultiPolygon")]
    NoPolygon,
}

fn shape(path: &str, message: impl Into<String>) -> GeoJsonError {
    GeoJsonError::Shape { path: path.to_string(), message: message.into() }
}

/// Every polygon in a GeoJSON text.
pub fn polygons(text: &str) -> Result<Vec<Rings>, GeoJsonError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| GeoJsonError::Json(e.to_string()))?;
    let mut out = Vec::new();
    collect(&v, "$", &mut out)?;
    if out.is_empty() {
        return Err(GeoJsonError::NoPolygon);
    }
    Ok(out)
}

fn collect(v: &serde_json::Value, path: &str, out: &mut Vec<Rings>) -> Result<(), GeoJsonError> {
    let kind = v.get("type").and_then(|t| t.as_str()).ok_or_else(|| shape(path, "has no \"type\""))?;
    match kind {
        "FeatureCollection" => {
            let features = v
                .get("features")
                .and_then(|f| f.as_array())
                .ok_or_else(|| shape(path, "has no \"features\" list"))?;
            for (i, f) in features.iter().enumerate() {
                collect(f, &format!("{path}.features[{i}]"), out)?;
            }
        }
        "Feature" => match v.get("geometry") {
            Some(g) if !g.is_null() => collect(g, &format!("{path}.geometry"), out)?,
            _ => {}
        },
        "GeometryCollection" => {
            let geoms = v
                .get("geometries")
                .and_then(|g| g.as_array())
                .ok_or_else(|| shape(path, "has no \"geometries\" list"))?;
            for (i, g) in geoms.iter().enumerate() {
                collect(g, &format!("{path}.geometries[{i}]"), out)?;
            }
        }
        "Polygon" => out.push(polygon(coordinates(v, path)?, &format!("{path}.coordinates"))?),
        "MultiPolygon" => {
            let polys =
                coordinates(v, path)?.as_array().ok_or_else(|| shape(path, "coordinates are not a list"))?;
            for (i, p) in polys.iter().enumerate() {
                out.push(polygon(p, &format!("{path}.coordinates[{i}]"))?);
            }
        }
        // Points and lines say nothing about an area.
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" => {}
        other => {
            return Err(shape(path, format!("has the unknown type \"{}\"", noriai_model::excerpt(other))));
        }
    }
    Ok(())
}

fn coordinates<'a>(v: &'a serde_json::Value, path: &str) -> Result<&'a serde_json::Value, GeoJsonError> {
    v.get("coordinates").ok_or_else(|| shape(path, "has no \"coordinates\""))
}

fn polygon(v: &serde_json::Value, path: &str) -> Result<Rings, GeoJsonError> {
    let rings = v.as_array().ok_or_else(|| shape(path, "is not a list of rings"))?;
    rings
        .iter()
        .enumerate()
        .map(|(r, ring)| {
            let here = format!("{path}[{r}]");
            let positions = ring.as_array().ok_or_else(|| shape(&here, "is not a list of positions"))?;
            positions
                .iter()
                .enumerate()
                .map(|(k, p)| position(p, &format!("{here}[{k}]")))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect()
}

fn position(p: &serde_json::Value, path: &str) -> Result<LatLon, GeoJsonError> {
    let xy =
        p.as_array().filter(|a| a.len() >= 2).ok_or_else(|| shape(path, "is not [longitude, latitude]"))?;
    let (Some(lon), Some(lat)) = (xy[0].as_f64(), xy[1].as_f64()) else {
        return Err(shape(path, "is not [longitude, latitude] numbers"));
    };
    LatLon::new(lat, lon).map_err(|e| {
        let hint =
            if (-90.0..=90.0).contains(&lon) { "; GeoJSON positions are [longitude, latitude]" } else { "" };
        shape(path, format!("{e}{hint}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shapes_gis_offices_send() {
        let poly =
            r#"{"type":"Polygon","coordinates":[[[140.7,40.8],[140.8,40.8],[140.8,40.9],[140.7,40.8]]]}"#;
        let p = polygons(poly).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0][0][0], LatLon { lat: 40.8, lon: 140.7 });
        let multi = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"青森市"},
            "geometry":{"type":"MultiPolygon","coordinates":[[[[140.7,40.8],[140.8,40.8],[140.8,40.9],[140.7,40.8]]],
            [[[141.0,41.0],[141.1,41.0],[141.1,41.1],[141.0,41.0]],[[141.02,41.02],[141.05,41.02],[141.05,41.05],[141.02,41.02]]]]}}]}"#;
        let p = polygons(multi).unwrap();
        assert_eq!((p.len(), p[1].len()), (2, 2), "two polygons, the second with a hole");
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = polygons(r#"{"type":"Polygon","coordinates":[[[40.8,140.7],[40.8,140.8],[40.9,140.8]]]}"#)
            .unwrap_err();
        let m = e.to_string();
        assert!(m.contains("$.coordinates[0][0]") && m.contains("[longitude, latitude]"), "{m}");
        assert_eq!(polygons(r#"{"type":"Point","coordinates":[1,2]}"#), Err(GeoJsonError::NoPolygon));
        assert!(matches!(polygons("{nope"), Err(GeoJsonError::Json(_))));
        let e = polygons(r#"{"type":"Feature","geometry":{"type":"Blob"}}"#).unwrap_err().to_string();
        assert!(e.contains("$.geometry") && e.contains("Blob"), "{e}");
    }
}
