//! Where load goes: a plain-HTTP URL, resolved once, and on this machine unless the user
//! says otherwise (load is traffic someone else's server should not get by accident).

use std::net::SocketAddr;

/// A resolved target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The URL as written out in reports (`http://127.0.0.1:4747/tasks/1`).
    pub url: String,
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header: the URL's host, and its port when it names one.
    pub host: String,
    /// The request target: path and query.
    pub path: String,
}

/// Why a target cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TargetError {
    /// Not a URL at all.
    #[error("`{0}` is not a URL: write it as http://127.0.0.1:8000/path")]
    NotUrl(String),
    /// Not plain HTTP.
    #[error(
        "`{0}` uses {1}; reqlab load speaks plain HTTP (point it at the server's http:// port on this machine)"
    )]
    Scheme(String, String),
    /// The name did not resolve.
    #[error("cannot find the address of `{0}`: {1}")]
    Unresolved(String, String),
    /// Off this machine, without permission: the host as written, and the address found.
    #[error(
        "{}: reqlab load sends load only to loopback addresses unless you pass --allow-remote (send load only to servers you run)",
        where_it_is(.0, .1)
    )]
    Remote(String, String),
}

/// "`example.com` is 93.184.215.14, not this machine", or for an address written as one,
/// "`192.0.2.7` is not this machine".
fn where_it_is(host: &str, ip: &str) -> String {
    if host.trim_start_matches('[').trim_end_matches(']') == ip {
        format!("`{host}` is not this machine")
    } else {
        format!("`{host}` is {ip}, not this machine")
    }
}

/// Parses `raw` (`http://host:port/path`, or `host:port/path` meaning http) and resolves its
/// host; a host off this machine is refused unless `allow_remote`.
pub async fn resolve(raw: &str, allow_remote: bool) -> Result<Target, TargetError> {
    let written = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let url = url::Url::parse(&written).map_err(|_| TargetError::NotUrl(raw.to_string()))?;
    if url.scheme() != "http" {
        return Err(TargetError::Scheme(
            raw.to_string(),
            url.scheme().to_string(),
        ));
    }
    let Some(host) = url.host_str() else {
        return Err(TargetError::NotUrl(raw.to_string()));
    };
    let port = url.port().unwrap_or(80);
    // Brackets around an IPv6 literal are URL syntax, not part of the address.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| TargetError::Unresolved(host.to_string(), e.to_string()))?
        .collect();
    let Some(first) = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
    else {
        return Err(TargetError::Unresolved(
            host.to_string(),
            "no addresses".into(),
        ));
    };
    if !allow_remote && let Some(far) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(TargetError::Remote(host.to_string(), far.ip().to_string()));
    }
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    Ok(Target {
        url: url.to_string(),
        addr: first,
        host: host_header,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_urls_resolve_with_or_without_a_scheme() {
        let t = resolve("127.0.0.1:4747/tasks/1?x=y", false).await.unwrap();
        assert_eq!(t.addr, "127.0.0.1:4747".parse().unwrap());
        assert_eq!(t.host, "127.0.0.1:4747");
        assert_eq!(t.path, "/tasks/1?x=y");
        assert_eq!(t.url, "http://127.0.0.1:4747/tasks/1?x=y");
        let t = resolve("http://[::1]:8000", false).await.unwrap();
        assert_eq!(t.addr, "[::1]:8000".parse().unwrap());
        assert_eq!(t.path, "/");
    }

    #[tokio::test]
    async fn other_machines_and_https_are_refused_before_any_traffic() {
        // 192.0.2.0/24 is reserved for documentation: nothing is sent there, it is only read.
        assert_eq!(
            resolve("http://192.0.2.7:80/", false).await,
            Err(TargetError::Remote("192.0.2.7".into(), "192.0.2.7".into()))
        );
        assert!(resolve("http://192.0.2.7:80/", true).await.is_ok());
        assert!(matches!(
            resolve("https://127.0.0.1:8443/", false).await,
            Err(TargetError::Scheme(..))
        ));
        assert!(matches!(
            resolve("http://", false).await,
            Err(TargetError::NotUrl(_))
        ));
    }
}
