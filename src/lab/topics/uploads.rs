//! `POST /uploads` and `GET /uploads/{id}`: file uploads done safely.
//!
//! - One `file` field of a `multipart/form-data` body, read within the lab's body limit and
//!   deadlines; the file itself at most [`MAX_FILE`] bytes (413).
//! - Only a few types, and the declared type must match the bytes (their magic numbers; text
//!   must be UTF-8 without NUL), or 415: a `.png` that is really a script stays out.
//! - The client's filename is display text only (its last path segment, control characters
//!   removed, shortened); the file is stored under a number, in the database, never at a path
//!   the client chose.
//! - Served back as an attachment, with its stored type, `nosniff` and a sandbox CSP, so a
//!   browser never runs it as a page of this origin.
//! - Only the [`KEPT`] most recent uploads are kept, so clients cannot grow the database
//!   without bound.

use super::Topic;
use crate::lab::clock;
use crate::lab::db::{DbError, RUNS_INLINE, RUNS_ON_WRITER, Sql};
use crate::lab::error::{BAD_REQUEST, Problem, ProblemType};
use crate::lab::extract::{parse_id, read_body};
use crate::lab::middleware::cache_control_on;
use crate::lab::migrate::Schema;
use crate::lab::state::LabState;
use crate::lab::step::{Carries, Gate, Planned};
use crate::lab::trace::{Outcome, Tracer};
use crate::stage::Stage;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::ToSql;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Safe file uploads.
pub static TOPIC: Topic = Topic {
    schema: Schema {
        name: "uploads",
        migrations: &[MIGRATION_1],
        seed: None,
    },
    problems: &[&UPLOAD_TOO_LARGE, &UPLOAD_TYPE],
    links: &[("uploads", "/uploads")],
    router,
};

const MIGRATION_1: &str = r#"
CREATE TABLE uploads (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,    -- display text only, never a path
    type       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    bytes      BLOB NOT NULL,
    created_at TEXT NOT NULL
);
"#;

/// A file over the upload limit.
pub static UPLOAD_TOO_LARGE: ProblemType = ProblemType {
    slug: "upload-too-large",
    status: Some(413),
    title: "The file is too large",
    explanation: "Uploads are capped (32 KiB here, inside the lab's 64 KiB limit for any body) so one client cannot fill the server's memory or disk. Send a smaller file.",
};

/// A file whose type is not accepted, or not what its bytes are.
pub static UPLOAD_TYPE: ProblemType = ProblemType {
    slug: "upload-type",
    status: Some(415),
    title: "The file's type is not accepted",
    explanation: "Only PNG, JPEG, PDF and plain text files are accepted, and the declared type must match the file's bytes: a file whose bytes say otherwise is refused, whatever its name says.",
};

/// Largest file accepted: below the lab's default body limit (64 KiB), so the upload limit is
/// the one a learner meets, with its own problem type.
const MAX_FILE: usize = 32 * 1024;
/// Uploads kept; older ones are deleted as new ones arrive.
const KEPT: i64 = 100;
/// Longest display name kept.
const MAX_NAME: usize = 100;

const INSERT_UPLOAD: &str = "INSERT INTO uploads (name, type, size, sha256, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
const PRUNE_UPLOADS: &str = "DELETE FROM uploads WHERE id <= (SELECT max(id) FROM uploads) - ?1";
const SELECT_UPLOAD: &str = "SELECT name, type, bytes FROM uploads WHERE id = ?1";

fn router(lab: &Arc<LabState>) -> Result<OpenApiRouter, DbError> {
    Ok(OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(cache_control_on(routes!(download), "private, no-cache"))
        .with_state(Arc::clone(lab)))
}

/// An upload form: one file.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Describes the form only_file reads.
struct UploadForm {
    /// At most 32 KiB, declared as image/png, image/jpeg, application/pdf or text/plain, with
    /// bytes that really are of that type.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A stored upload.
#[derive(Serialize, ToSchema)]
struct Uploaded {
    #[schema(minimum = 1)]
    id: i64,
    /// The client's filename for display only: its last path segment, cleaned.
    name: String,
    /// The declared type, checked against the bytes.
    #[serde(rename = "type")]
    #[schema(example = "text/plain")]
    kind: String,
    #[schema(maximum = 32768)]
    size: usize,
    /// The SHA-256 of the bytes, in hex.
    #[schema(min_length = 64, max_length = 64)]
    sha256: String,
}

/// The accepted types, and whether bytes are of that type.
fn bytes_are(kind: &str, bytes: &[u8]) -> Option<bool> {
    Some(match kind {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(b"\xff\xd8\xff"),
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "text/plain" => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        _ => return None,
    })
}

/// The client's filename as display text: its last path segment, without control
/// characters, at most [`MAX_NAME`] characters.
fn display_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "upload".to_string()
    } else {
        clean
    }
}

/// The one file of the form, or why there is none.
struct Part {
    name: Option<String>,
    kind: Option<String>,
    bytes: Bytes,
}

async fn only_file(content_type: &str, body: Bytes) -> Result<Part, String> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| "the body must be multipart/form-data with a boundary".to_string())?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut found = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| format!("the multipart body is malformed ({e})"))?
    {
        if field.name() != Some("file") {
            return Err(format!(
                "unexpected form field `{}`: send one field named file",
                field.name().unwrap_or("")
            ));
        }
        if found.is_some() {
            return Err("send one file per request".into());
        }
        let name = field.file_name().map(str::to_string);
        let kind = field.content_type().map(|m| m.essence_str().to_string());
        let bytes = field
            .bytes()
            .await
            .map_err(|e| format!("the file part could not be read ({e})"))?;
        found = Some(Part { name, kind, bytes });
    }
    found.ok_or_else(|| "the form has no field named file".to_string())
}

#[utoipa::path(post, path = "/uploads", tag = "uploads", summary = "Upload a file",
    description = "One form field named file. The filename is kept for display only (never a path on disk); the declared type must be one the lab accepts and must match the bytes. Only the 100 most recent uploads are kept.",
    request_body(content((UploadForm = "multipart/form-data",
        encoding(("file" = (content_type = "image/png, image/jpeg, application/pdf, text/plain")))))),
    responses(
        (status = 201, description = "Stored", body = Uploaded, headers(("Location" = String, description = "Where to download it"))),
        (status = 400, description = "The body is not a form with one field named file"),
        (status = 403, description = "A page on another site may not upload here"),
        (status = 413, description = "The file is larger than 32 KiB (or the body than 64 KiB)"),
        (status = 415, description = "The declared type is not accepted, or the bytes are not of that type"),
    ))]
async fn upload(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    req: Request,
) -> Result<Response, Problem> {
    let start = Instant::now();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = read_body(req, &(), &tracer, start).await?;
    let part = match only_file(&content_type, body).await {
        Ok(part) => part,
        Err(why) => {
            tracer.timed(
                Stage::Parsing,
                start,
                Outcome::Fail,
                format_args!("{why} → 400"),
            );
            return Err(Problem::new(&BAD_REQUEST, format!("{why}.")));
        }
    };
    let raw_name = part.name.clone().unwrap_or_default();
    let name = display_name(&raw_name);
    let size = part.bytes.len();
    tracer.timed(
        Stage::Parsing,
        start,
        Outcome::Ok,
        format_args!(
            "read one file part: {size} bytes declared as {}, named {raw_name:?} by the client",
            part.kind.as_deref().unwrap_or("(no type)")
        ),
    );

    // Validation: size, then type against the bytes.
    if size > MAX_FILE {
        tracer.note(
            Stage::Validation,
            Outcome::Fail,
            format_args!("the file is {size} bytes, over the {MAX_FILE}-byte upload limit → 413"),
        );
        return Err(Problem::new(
            &UPLOAD_TOO_LARGE,
            format!("The file is {size} bytes; uploads are at most {MAX_FILE} bytes."),
        ));
    }
    let kind = part.kind.unwrap_or_default();
    match bytes_are(&kind, &part.bytes) {
        None => {
            tracer.note(
                Stage::Validation,
                Outcome::Fail,
                format_args!("{kind:?} is not an accepted type (PNG, JPEG, PDF, plain text) → 415"),
            );
            return Err(Problem::new(
                &UPLOAD_TYPE,
                format!("Files of type {kind:?} are not accepted; send PNG, JPEG, PDF or plain text."),
            ));
        }
        Some(false) => {
            tracer.note(
                Stage::Validation,
                Outcome::Fail,
                format_args!("the file is declared {kind}, but its bytes are not {kind} → 415; a name or a declared type proves nothing, the bytes do"),
            );
            return Err(Problem::new(
                &UPLOAD_TYPE,
                format!("The file is declared as {kind}, but its content is not {kind}."),
            ));
        }
        Some(true) => tracer.note(
            Stage::Validation,
            Outcome::Ok,
            format_args!("{size} bytes of {kind}, and the bytes are {kind}; the name {raw_name:?} is kept as the display text {name:?}, never used as a path"),
        ),
    }
    gate.auth().await;

    let digest = crate::lab::digest::sha256_hex(&part.bytes);
    let now = clock::timestamp();
    let size_param = size as i64;
    gate.hold(Stage::Data, || {
        let bytes_shown = format!("<{size} bytes>");
        let insert: [&dyn ToSql; 6] = [&name, &kind, &size_param, &digest, &bytes_shown, &now];
        let prune: [&dyn ToSql; 1] = [&KEPT];
        Carries::sql(
            RUNS_ON_WRITER,
            &[
                Planned::new(INSERT_UPLOAD, &insert),
                Planned::new(PRUNE_UPLOADS, &prune),
            ],
        )
    })
    .await;
    let (t, n, k, d, bytes) = (
        tracer.clone(),
        name.clone(),
        kind.clone(),
        digest.clone(),
        part.bytes.to_vec(),
    );
    let id = lab
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let id = Sql::new(&tx, &t)
                .query_opt(
                    INSERT_UPLOAD,
                    &[&n, &k, &size_param, &d, &bytes, &now],
                    |row| row.get::<_, i64>(0),
                )?
                .ok_or_else(|| DbError::Task("insert returned no row".into()))?;
            Sql::new(&tx, &t).execute(PRUNE_UPLOADS, &[&KEPT])?;
            tx.commit()?;
            Ok(id)
        })
        .await?;
    tracer.note(
        Stage::Logic,
        Outcome::Ok,
        format_args!("stored upload {id} (only the {KEPT} most recent are kept) → 201 with Location: /uploads/{id}"),
    );
    let location = format!("/uploads/{id}");
    let mut response = (
        StatusCode::CREATED,
        Json(Uploaded {
            id,
            name,
            kind,
            size,
            sha256: digest,
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/uploads/{id}", tag = "uploads", summary = "Download an upload",
    description = "Always as an attachment, with a sandboxing Content-Security-Policy: an uploaded page never runs as the lab's own.",
    params(("id" = i64, Path, description = "The upload's id", minimum = 1)),
    responses(
        (status = 200, description = "The bytes, with the type they were stored as", content(
            ("image/png"), ("image/jpeg"), ("application/pdf"), ("text/plain")),
            headers(("Content-Disposition" = String, description = "attachment, with the display name"))),
        (status = 404, description = "No upload has this id (only the 100 most recent are kept)"),
    ))]
async fn download(
    State(lab): State<Arc<LabState>>,
    tracer: Tracer,
    gate: Gate,
    Path(raw): Path<String>,
) -> Result<Response, Problem> {
    let id = parse_id(&raw, "upload", &tracer)?;
    gate.auth().await;
    gate.hold(Stage::Data, || {
        Carries::statement(RUNS_INLINE, SELECT_UPLOAD, &[&id])
    })
    .await;
    let found = lab.db.read(|c| {
        Sql::new(c, &tracer).query_opt(SELECT_UPLOAD, &[&id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })
    })?;
    let Some((name, kind, bytes)) = found else {
        tracer.note(
            Stage::Logic,
            Outcome::Fail,
            format_args!("no upload has id {id} → 404"),
        );
        return Err(Problem::not_found(format!("There is no upload {id}.")));
    };
    tracer.note(
        Stage::Response,
        Outcome::Ok,
        format_args!("serving upload {id} as an attachment of type {kind}, with a sandbox CSP: a browser saves it and never runs it as a page of this site"),
    );
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&kind) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    // The display name, quoted: printable ASCII only (anything else becomes _), no quote or
    // backslash, so it cannot break out of the header's quoted string.
    let quoted: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect();
    let disposition = format!("attachment; filename=\"{quoted}\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filename_is_display_text_never_a_path() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\me\\cat.png"), "cat.png");
        assert_eq!(display_name("..\u{0}hidden\n.txt"), "hidden.txt");
        assert_eq!(display_name("../"), "upload");
        assert_eq!(display_name(&"a".repeat(500)).chars().count(), MAX_NAME);
    }

    #[test]
    fn bytes_must_be_what_the_type_says() {
        assert_eq!(bytes_are("image/png", b"\x89PNG\r\n\x1a\nrest"), Some(true));
        assert_eq!(
            bytes_are("image/png", b"<script>alert(1)</script>"),
            Some(false)
        );
        assert_eq!(bytes_are("text/plain", b"hello"), Some(true));
        assert_eq!(bytes_are("text/plain", b"he\0llo"), Some(false));
        assert_eq!(bytes_are("text/html", b"<p>"), None);
    }
}
