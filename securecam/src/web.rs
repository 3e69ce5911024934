//! The web app: the files of `web/` at the top of the repository, built into the binary so a
//! household's one binary needs nothing else (a debug build reads them from disk, and
//! `web_dir` serves another directory, for working on the app without rebuilding).
//!
//! `index.html` is the page of every route of the app (history routing); `sw.js` is served at
//! the root because a service worker only controls pages under its own path, and so is
//! `manifest.webmanifest` (API.md names it there); everything else is under `/assets/`.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../web"]
struct Built;

/// The app's pages: each is `index.html`, which routes on its own path.
const PAGES: &[&str] = &[
    "/",
    "/camera",
    "/pair",
    "/invite",
    "/reset-password",
    // How to trust this server's certificate authority.
    "/trust",
    // The deep link of a push notification (`<public URL>/events/<id>`).
    "/events/{*rest}",
    "/app",
    "/app/{*rest}",
];

/// Scripts, styles and media only from this server; media and API calls may also go to
/// another origin (a relay's WHIP/WHEP endpoint, a presigned clip URL in object storage).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob: http: https:; \
     connect-src 'self' http: https: ws: wss:; worker-src 'self'; manifest-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// On every file of the app.
const PAGE_HEADERS: &[(&str, &str)] = &[
    // File names carry no version: revalidate every time (cheap with the ETag) so an upgraded
    // server never runs with yesterday's script.
    ("cache-control", "no-cache"),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    // Pairing and invite codes ride in page URLs: never hand them to another site.
    ("referrer-policy", "no-referrer"),
    (
        "permissions-policy",
        "camera=(self), microphone=(self), screen-wake-lock=(self)",
    ),
];

/// Whether `path` is a page a browser opens (the app's pages and the API reference), not an
/// API call or a file: what the HTTP listener sends on to HTTPS.
pub fn is_page(path: &str) -> bool {
    path == "/docs"
        || path.starts_with("/docs/")
        || PAGES.iter().any(|page| match page.strip_suffix("{*rest}") {
            Some(prefix) => path.starts_with(prefix),
            None => path == *page,
        })
}

#[derive(Clone)]
enum Source {
    Built,
    Dir(Arc<PathBuf>),
}

struct File {
    bytes: Cow<'static, [u8]>,
    mime: String,
    etag: Option<String>,
}

impl Source {
    async fn file(&self, path: &str) -> Option<File> {
        // Only plain names below the root: no `..`, no absolute paths (a debug build's
        // built-in files are read from disk too).
        if !Path::new(path)
            .components()
            .all(|part| matches!(part, Component::Normal(_)))
        {
            return None;
        }
        match self {
            Source::Built => Built::get(path).map(|file| File {
                mime: file.metadata.mimetype().to_string(),
                etag: Some(format!(
                    "\"{}\"",
                    hex::encode(&file.metadata.sha256_hash()[..16])
                )),
                bytes: file.data,
            }),
            Source::Dir(root) => {
                let bytes = tokio::fs::read(root.join(path)).await.ok()?;
                Some(File {
                    mime: mime_guess::from_path(path)
                        .first_or_octet_stream()
                        .to_string(),
                    etag: None,
                    bytes: Cow::Owned(bytes),
                })
            }
        }
    }
}

fn missing(path: &str) -> Response {
    securecam_signal::error::problem_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("the web app has no file {path}"),
        None,
    )
}

/// The app's routes: its pages, `/sw.js` and `/assets/…`.
pub fn router(dir: Option<PathBuf>) -> Router {
    let source = match dir {
        Some(dir) => Source::Dir(Arc::new(dir)),
        None => Source::Built,
    };
    let mut router = Router::new()
        .route("/sw.js", get(service_worker))
        .route("/manifest.webmanifest", get(manifest))
        .route("/assets/{*path}", get(asset));
    for page in PAGES {
        router = router.route(page, get(index));
    }
    router.with_state(source)
}

async fn index(State(source): State<Source>, headers: HeaderMap) -> Response {
    serve(&source, "index.html", &headers).await
}

async fn service_worker(State(source): State<Source>, headers: HeaderMap) -> Response {
    serve(&source, "sw.js", &headers).await
}

/// At the root, where API.md names it (its icons and URLs are absolute paths).
async fn manifest(State(source): State<Source>, headers: HeaderMap) -> Response {
    serve(&source, "manifest.webmanifest", &headers).await
}

async fn asset(
    State(source): State<Source>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    // The page, the worker and the manifest have routes of their own.
    if matches!(
        path.as_str(),
        "index.html" | "sw.js" | "manifest.webmanifest"
    ) {
        return missing(&path);
    }
    serve(&source, &path, &headers).await
}

async fn serve(source: &Source, path: &str, request: &HeaderMap) -> Response {
    let Some(file) = source.file(path).await else {
        return missing(path);
    };
    let mut response = if file.etag.is_some()
        && request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == file.etag.as_deref()
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.bytes.into_owned().into_response()
    };
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&file.mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    if let Some(etag) = file.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(header::ETAG, etag);
    }
    with_page_headers(response).await
}

/// The headers of every page and file of the app (its content security policy above all);
/// also on the API reference page, which runs on the same origin.
pub async fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in PAGE_HEADERS {
        headers.insert(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_are_the_app_and_the_docs() {
        for page in [
            "/",
            "/camera",
            "/app",
            "/app/events/1",
            "/events/1",
            "/trust",
            "/docs",
        ] {
            assert!(super::is_page(page), "{page}");
        }
        for other in [
            "/api/v1/health",
            "/media/whip/x",
            "/assets/app.css",
            "/sw.js",
            "/ca.pem",
            "/metrics",
            "/apps",
        ] {
            assert!(!super::is_page(other), "{other}");
        }
    }
}
