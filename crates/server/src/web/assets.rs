//! The console's page and files, embedded in the binary from `console/`
//! so the server needs nothing beside it and the browser nothing from
//! elsewhere.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "console/"]
struct Files;

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str) -> Response {
    match Files::get(name) {
        Some(file) => ([(header::CONTENT_TYPE, content_type(name))], file.data.into_owned()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// `GET /`: the operator console.
pub async fn console() -> Response {
    serve("index.html")
}

/// `GET /driver`: the driver's view for a tablet.
pub async fn driver() -> Response {
    serve("driver.html")
}

/// `GET /assets/…`: scripts, styles, icons.
pub async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_pages_load_is_embedded() {
        for page in ["index.html", "driver.html"] {
            let html = String::from_utf8(Files::get(page).expect(page).data.into_owned()).expect("utf-8");
            for part in html.split("/assets/").skip(1) {
                let name: String = part.chars().take_while(|c| !matches!(c, '"' | '\'' | '?')).collect();
                assert!(Files::get(&name).is_some(), "{page} loads /assets/{name}, which is not embedded");
            }
        }
    }
}
