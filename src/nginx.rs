//! nginx as the load balancer in front of `reqlab serve --replicas N`: finding it, writing
//! its configuration, and running it unprivileged in a folder of its own.
//!
//! The configuration is the one a reverse proxy in front of an API needs: an upstream with
//! every replica (round robin, the default), `Host` passed through as the client sent it,
//! `X-Forwarded-For` and `X-Forwarded-Proto` added, keep-alive connections to the replicas,
//! and no buffering where the lab streams (`/_lab/` and `/job-events`), so each event reaches
//! the client as it happens. Nothing is written to disk but the prefix folder: bodies and
//! answers stay in memory (within the sizes set here).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where nginx is looked for besides `PATH` (Debian and most distributions install it in
/// /usr/sbin, which is not on an ordinary user's `PATH`; Homebrew in its own prefix).
pub const SEARCHED: [&str; 4] = [
    "/usr/sbin",
    "/usr/local/sbin",
    "/opt/homebrew/bin",
    "/usr/local/bin",
];

/// The nginx binary: `REQLAB_NGINX` when set, else the first `nginx` on `PATH` or in
/// [`SEARCHED`]; an error says what to install.
pub fn find() -> Result<PathBuf, String> {
    search(
        std::env::var_os("PATH").as_deref(),
        &SEARCHED,
        std::env::var_os("REQLAB_NGINX").map(PathBuf::from),
    )
}

/// [`find`], with what it reads passed in.
fn search(
    path_var: Option<&std::ffi::OsStr>,
    searched: &[&str],
    explicit: Option<PathBuf>,
) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "REQLAB_NGINX names {}, which is not a file",
                path.display()
            ))
        };
    }
    let on_path = path_var
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(searched.iter().map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            format!(
                "--replicas puts nginx in front of the replicas, and nginx is not installed (looked on PATH and in {}). Install it — Debian or Ubuntu: sudo apt-get install nginx; Fedora: sudo dnf install nginx; macOS: brew install nginx — or name the binary with REQLAB_NGINX=/path/to/nginx, and run again",
                SEARCHED.join(", ")
            )
        })
}

/// True when this nginx has `-e` (a log for errors before its configuration is read), which
/// came in nginx 1.19.5.
pub fn knows_error_log_flag(nginx: &Path) -> bool {
    let Ok(out) = std::process::Command::new(nginx).arg("-v").output() else {
        return false;
    };
    // `nginx -v` writes `nginx version: nginx/1.22.1` (sometimes with a suffix) to stderr.
    let text = String::from_utf8_lossy(&out.stderr);
    version_at_least(&text, (1, 19, 5))
}

/// True when the first `x.y.z` after `nginx/` in `text` is at least `min`.
fn version_at_least(text: &str, min: (u32, u32, u32)) -> bool {
    let Some(rest) = text.split("nginx/").nth(1) else {
        return false;
    };
    let numbers: Vec<u32> = rest
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("")
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers.as_slice() {
        [a, b, c, ..] => (*a, *b, *c) >= min,
        [a, b] => (*a, *b, 0) >= min,
        _ => false,
    }
}

/// What nginx needs to know of the lab behind it.
#[derive(Debug, Clone)]
pub struct Site<'a> {
    /// Where nginx listens.
    pub listen: SocketAddr,
    /// The replicas, by name.
    pub replicas: &'a [(String, SocketAddr)],
    /// The replicas' body limit (`serve --body-limit`): nginx lets bodies up to twice that
    /// through (at least 1 MiB), so a replica answers an oversized one with its own 413.
    pub body_limit: usize,
}

/// The configuration for nginx in front of `site`, with its files under `prefix`.
pub fn config(prefix: &Path, site: &Site<'_>) -> String {
    let p = prefix.display();
    let (listen, replicas) = (site.listen, site.replicas);
    let body = site.body_limit.saturating_mul(2).max(1024 * 1024);
    let mut upstream = String::new();
    for (name, addr) in replicas {
        upstream.push_str(&format!("        server {addr};  # {name}\n"));
    }
    let proxy = "            proxy_pass http://reqlab_replicas;
            proxy_http_version 1.1;
            # Keep-alive to the replicas: no Connection header from the client passes on.
            proxy_set_header Connection \"\";
            # The Host the client sent, port included, so the lab sees the name it was asked by.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Never write an answer to a temporary file (the prefix is all nginx may write).
            proxy_max_temp_file_size 0;
";
    format!(
        "# Written by reqlab serve --replicas: nginx balancing requests over the lab's replicas.
daemon off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    # Request bodies stay in memory: the replicas refuse bodies over their own limit anyway.
    client_max_body_size {body};
    client_body_buffer_size {body};
    client_body_temp_path {p}/temp/body;
    proxy_temp_path {p}/temp/proxy;
    fastcgi_temp_path {p}/temp/fastcgi;
    uwsgi_temp_path {p}/temp/uwsgi;
    scgi_temp_path {p}/temp/scgi;

    # Round robin, nginx's default: each new request goes to the next replica.
    upstream reqlab_replicas {{
{upstream}        keepalive 32;
    }}

    server {{
        listen {listen};

        location / {{
{proxy}        }}

        # Live streams (traces, job events): pass each event on as it comes.
        location /_lab/ {{
{proxy}            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
        location = /job-events {{
{proxy}            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"
    )
}

/// Creates the prefix folder nginx needs and writes its configuration; returns the file.
pub fn prepare(prefix: &Path, site: &Site<'_>) -> std::io::Result<PathBuf> {
    for dir in [
        "temp/body",
        "temp/proxy",
        "temp/fastcgi",
        "temp/uwsgi",
        "temp/scgi",
    ] {
        std::fs::create_dir_all(prefix.join(dir))?;
    }
    let file = prefix.join("nginx.conf");
    std::fs::write(&file, config(prefix, site))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_lists_every_replica_and_streams_unbuffered() {
        let replicas = [
            ("r1".to_string(), "127.0.0.1:5001".parse().unwrap()),
            ("r2".to_string(), "127.0.0.1:5002".parse().unwrap()),
        ];
        let site = Site {
            listen: "127.0.0.1:4747".parse().unwrap(),
            replicas: &replicas,
            body_limit: 64 * 1024,
        };
        let text = config(Path::new("/tmp/x"), &site);
        assert!(text.contains("client_max_body_size 1048576;"));
        let big = config(
            Path::new("/tmp/x"),
            &Site {
                body_limit: 4 << 20,
                ..site
            },
        );
        assert!(big.contains("client_max_body_size 8388608;"));
        assert!(text.contains("server 127.0.0.1:5001;  # r1"));
        assert!(text.contains("server 127.0.0.1:5002;  # r2"));
        assert!(text.contains("listen 127.0.0.1:4747;"));
        assert!(text.contains("error_log /tmp/x/error.log"));
        assert_eq!(text.matches("proxy_set_header Host $http_host;").count(), 3);
        assert_eq!(text.matches("proxy_buffering off;").count(), 2);
        assert!(text.contains("location = /job-events"));
    }

    #[test]
    fn the_error_log_flag_needs_nginx_1_19_5() {
        assert!(version_at_least("nginx version: nginx/1.22.1", (1, 19, 5)));
        assert!(version_at_least(
            "nginx version: nginx/1.19.5 (Ubuntu)",
            (1, 19, 5)
        ));
        assert!(!version_at_least(
            "nginx version: nginx/1.18.0 (Ubuntu)",
            (1, 19, 5)
        ));
        assert!(!version_at_least("something else", (1, 19, 5)));
    }

    #[test]
    fn a_missing_nginx_says_what_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let message = search(Some(empty.path().as_os_str()), &[], None).unwrap_err();
        assert!(message.contains("apt-get install nginx"), "{message}");
        assert!(message.contains("brew install nginx"), "{message}");
        let bad = search(None, &[], Some(empty.path().join("nope"))).unwrap_err();
        assert!(bad.contains("REQLAB_NGINX names"), "{bad}");
        let fake = empty.path().join("nginx");
        std::fs::write(&fake, "").unwrap();
        assert_eq!(
            search(Some(empty.path().as_os_str()), &[], None).unwrap(),
            fake
        );
        let dir = empty.path().to_str().unwrap();
        assert_eq!(search(None, &[dir], None).unwrap(), fake);
    }
}
