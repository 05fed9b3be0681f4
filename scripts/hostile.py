#!/usr/bin/env python3
"""Attack a running-from-scratch reqlab lab with hostile requests and report what held.

Usage: python3 scripts/hostile.py [path/to/reqlab]   (default: target/release/reqlab)

Starts its own labs on free loopback ports (an in-memory one, one on a temporary database
file, and one limited to 128 open files), sends each hostile shape, and prints one line per
shape: "held" when the lab answered as it should, "FAILED" with what happened otherwise.
Exits 1 when anything failed. Uses only the Python standard library.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/reqlab"
results = []


def report(name, ok, detail=""):
    results.append(ok)
    mark = "held  " if ok else "FAILED"
    print(f"  {mark} {name}" + (f" — {detail}" if detail else ""), flush=True)


class Lab:
    """A `reqlab serve` process; stopped on exit."""

    def __init__(self, *args, shell_prefix=""):
        env = dict(os.environ, NO_COLOR="1")
        self.data = tempfile.mkdtemp(prefix="reqlab-hostile-")
        env["REQLAB_DATA_DIR"] = self.data
        cmd = f"{shell_prefix}exec {BIN} serve --port 0 " + " ".join(args)
        self.proc = subprocess.Popen(
            ["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        line = self.proc.stdout.readline()
        assert line.startswith("listening on http://"), line
        self.url = line.split()[-1]
        host, port = self.url[len("http://"):].split(":")
        self.addr = (host, int(port))

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)


def raw(addr, data, wait=3.0, half_close=False):
    """Sends bytes, returns (status_line, headers_text, body) read until close or quiet."""
    s = socket.create_connection(addr)
    s.sendall(data)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(wait)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            head, sep, body = out.partition(b"\r\n\r\n")
            if sep:
                length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(body) >= int(length[0].split(b":")[1]):
                    break
    except socket.timeout:
        pass
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], "\n".join(lines[1:]).lower(), body


def request(lab, method, path, body=None, headers=None):
    req = urllib.request.Request(lab.url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def closes_within(addr, data, seconds):
    s = socket.create_connection(addr)
    if data:
        s.sendall(data)
    s.settimeout(seconds)
    start = time.time()
    try:
        while s.recv(65536):
            pass
        return time.time() - start
    except socket.timeout:
        return None
    finally:
        s.close()


def main():
    print(f"reqlab hostile-input run against {BIN}")
    lab = Lab("--memory", "--header-timeout", "1")
    try:
        # 1. Thousands of unknown fields: small answers, bounded traces and memory.
        body = ("{" + ",".join(f'"k{i:04}":1' for i in range(6000)) + "}").encode()
        request(lab, "POST", "/tasks", body, {"Content-Type": "application/json"})
        before = lab.rss_mib()
        largest = 0
        def burst():
            nonlocal largest
            for _ in range(150):
                _, _, b = request(lab, "POST", "/tasks", body, {"Content-Type": "application/json"})
                largest = max(largest, len(b))
        threads = [threading.Thread(target=burst) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        grown = lab.rss_mib() - before
        _, _, traces = request(lab, "GET", "/_lab/traces?limit=1000")
        report("600 bodies with 6,000 unknown fields: 422 bodies stay small", largest < 8192, f"largest {largest} bytes")
        report("... and /_lab/traces?limit=1000 stays bounded", len(traces) < 8 << 20, f"{len(traces) / 1048576:.1f} MiB")
        report("... and the lab's memory stays bounded", grown < 64, f"grew {grown:.1f} MiB")

        # 3. Connections that stall.
        t = closes_within(lab.addr, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n", 5)
        report("half a request head is dropped", t is not None, f"after {t:.1f} s" if t else "held open")
        t = closes_within(lab.addr, b"", 5)
        report("a silent connection is dropped", t is not None, f"after {t:.1f} s" if t else "held open")
        line, _, b = raw(lab.addr, b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", wait=15)
        report("a body that stops arriving gets 408", line.startswith("HTTP/1.1 408"), line)
        line, _, _ = raw(lab.addr, b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n")
        report("Expect: 100-continue with an oversized body gets 413 at once", line.startswith("HTTP/1.1 413"), line)

        # 4. Text that looks empty.
        for name, title in [("NUL", "\u0000"), ("zero-width space", "\u200b"), ("byte-order mark", "\ufeff")]:
            status, _, b = request(lab, "POST", "/tasks", json.dumps({"title": title}).encode(), {"Content-Type": "application/json"})
            field = json.loads(b).get("errors", [{}])[0].get("field")
            report(f"a title of only a {name} gets a field-level 422", status == 422 and field == "title", f"{status} {field}")

        # 5. What hyper refuses on its own, and the lab's own head limits.
        shapes = [
            ("a garbage request line", b"GARBAGE\r\n\r\n", "400"),
            ("an unknown HTTP version", b"GET / HTTP/9.9\r\n\r\n", "400"),
            ("a 70 KB URL", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "414"),
            ("a 9 KB URL", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "414"),
            ("a 20 KB header", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", "431"),
            ("two different Content-Lengths", b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "400"),
            ("no Host on HTTP/1.1", b"GET /health HTTP/1.1\r\n\r\n", "400"),
            ("two Hosts", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: localhost\r\n\r\n", "400"),
            ("a rebinding Host", b"GET /_lab/traces HTTP/1.1\r\nHost: rebind.evil.example\r\n\r\n", "421"),
            ("a cross-site form post", b"POST /tasks/7/complete HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n", "403"),
            ("Transfer-Encoding: gzip, chunked", b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "501"),
            ("JSON nested 200 deep", b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 401\r\n\r\n" + b"[" * 200 + b"1" + b"]" * 200, "400"),
            ("task id +2", b"GET /tasks/+2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "404"),
        ]
        for name, data, status in shapes:
            line, headers, b = raw(lab.addr, data)
            ok = line.split(" ")[1:2] == [status] and "application/problem+json" in headers and b'"request_id"' in b
            report(f"{name} gets {status} as problem+json", ok, line)

        # 7, 8. Caching, TRACE, OPTIONS.
        missing = [p for p in ["/", "/health", "/echo", "/tasks", "/tasks/1", "/nowhere", "/_lab/traces"]
                   if "cache-control" not in raw(lab.addr, f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())[1]]
        report("every response says whether a cache may keep it", not missing, ", ".join(missing))
        _, _, b = raw(lab.addr, b"TRACE /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: session=s3cret\r\nConnection: close\r\n\r\n")
        report("TRACE does not reflect cookies", b"s3cret" not in b)
        line, headers, _ = raw(lab.addr, b"OPTIONS /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        report("OPTIONS answers with Allow", line.startswith("HTTP/1.1 204") and "allow: get, head, post, options" in headers, line)

        # Conditional and idempotent writes.
        json_h = {"Content-Type": "application/json"}
        before = len(json.loads(request(lab, "GET", "/tasks?limit=100")[2])["items"])
        two = b"POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"title\":\"x\"}"
        line, _, _ = raw(lab.addr, two)
        after = len(json.loads(request(lab, "GET", "/tasks?limit=100")[2])["items"])
        report("two Idempotency-Keys get 400 and create nothing", line.startswith("HTTP/1.1 400") and after == before, line)
        status, _, b = request(lab, "POST", "/tasks", b'{"title":"x"}', {**json_h, "Idempotency-Key": "k" * 300})
        report("an oversized Idempotency-Key gets 400", status == 400, str(status))
        status, _, b = request(lab, "PATCH", "/tasks/1", b'{"done":true}', {**json_h, "If-Match": "garbage"})
        report("an unquoted If-Match gets 412 naming the current tag", status == 412 and b'\\"1-' in b, str(status))
        tags = ",".join(['"x"'] * 2000)
        status, _, _ = request(lab, "GET", "/tasks/1", None, {"If-None-Match": tags})
        report("an If-None-Match list of 2,000 tags is answered", status in (200, 431), str(status))
        status, _, b = request(lab, "PATCH", "/tasks/1", b"[1,2]", {"Content-Type": "application/merge-patch+json"})
        report("a merge patch that is not an object gets one 422 error", status == 422 and len(json.loads(b)["errors"]) == 1, str(status))

        # The concerns around every request: metrics, CORS, uploads, the rate limit.
        def metric_series():
            text = request(lab, "GET", "/metrics")[2].decode()
            return {l.rsplit(" ", 1)[0] for l in text.splitlines() if l.startswith("reqlab_http_requests_total{")}
        before_series = metric_series()
        for i in range(300):
            raw(lab.addr, f"BREW{i} /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode(), wait=1)
            request(lab, "GET", f"/no-such-page-{i}")
        new_series = metric_series() - before_series
        report("300 invented methods and 300 unknown paths add a handful of metric series", len(new_series) <= 4, f"{len(new_series)} new: {sorted(new_series)}")
        line, headers, _ = raw(lab.addr, b"OPTIONS /api/data HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: null\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n")
        report("a preflight from the null origin gets no permission", "access-control-allow-origin" not in headers, line)
        boundary = "b"
        parts = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{i}.txt\"\r\nContent-Type: text/plain\r\n\r\nx\r\n" for i in range(2000))
        body = (parts + f"--{boundary}--\r\n").encode()[:60000] + f"\r\n--{boundary}--\r\n".encode()
        status, _, b = request(lab, "POST", "/uploads", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        report("a form with thousands of file parts gets 400, nothing stored", status == 400, str(status))
        name = "../" * 3000 + "x.txt"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--{boundary}--\r\n").encode()
        status, _, b = request(lab, "POST", "/uploads", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        report("a filename of 3,000 ../ is stored as display text x.txt", status == 201 and json.loads(b)["name"] == "x.txt", f"{status} {b[:80]!r}")
        statuses = [request(lab, "GET", "/limited")[0] for _ in range(8)]
        report("a burst past the token bucket gets 429s", statuses[:5] == [200] * 5 and 429 in statuses[5:], str(statuses))

        # Background jobs: a flood of distinct work is held to the queue limit (20), and the
        # rest is refused with 503 and Retry-After; a secret in a body never reaches a trace.
        codes, retry_after, lock = {}, set(), threading.Lock()
        def ingest(i):
            body = json.dumps({"tenant_id": "t", "object_key": "k", "idempotency_key": f"flood-{i}", "work_ms": 30000}).encode()
            status, headers, _ = request(lab, "POST", "/documents/ingest", body, {"Content-Type": "application/json"})
            with lock:
                codes[status] = codes.get(status, 0) + 1
                if status == 503:
                    retry_after.add(headers.get("retry-after"))
        threads = [threading.Thread(target=ingest, args=(i,)) for i in range(300)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        report("300 concurrent jobs: 20 accepted, the rest 503 with Retry-After", codes == {202: 20, 503: 280} and all(r and r.isdigit() for r in retry_after), f"{codes} Retry-After {sorted(map(str, retry_after))}")
        status, headers, _ = request(lab, "POST", "/login", b"username=alice&pass%77ord=hunter2-secret", {"Content-Type": "application/x-www-form-urlencoded"})
        _, _, trace = request(lab, "GET", "/_lab/traces/" + headers.get("x-request-id", ""))
        report("a password under an encoded field name is not kept in the trace", b"hunter2-secret" not in trace and b"password" in trace, f"login {status}")
    finally:
        lab.stop()

    # 2. The WAL under a write burst, and after shutdown.
    db = os.path.join(tempfile.mkdtemp(prefix="reqlab-hostile-"), "lab.db")
    lab = Lab("--db", db)
    try:
        largest = 0
        for i in range(3000):
            request(lab, "POST", "/tasks", json.dumps({"title": f"burst {i} with a longer title"}).encode(), {"Content-Type": "application/json"})
            if i % 100 == 0 and os.path.exists(db + "-wal"):
                largest = max(largest, os.path.getsize(db + "-wal"))
        report("3,000 writes keep the WAL bounded", largest < 8 << 20, f"largest {largest / 1048576:.1f} MiB")
    finally:
        lab.stop()
    left = os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0
    report("after shutdown lab.db alone holds the data", left == 0, f"WAL {left} bytes")

    # 3. Stalled clients against a lab allowed 128 open files.
    lab = Lab("--memory", "--header-timeout", "1", shell_prefix="ulimit -n 128 && ")
    try:
        stalled = []
        for _ in range(200):
            s = socket.create_connection(lab.addr)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            stalled.append(s)
        start = time.time()
        status, _, _ = request(lab, "GET", "/health")
        report("200 stalled clients cannot lock out an honest one (128-file limit)", status == 200, f"served after {time.time() - start:.1f} s")
        for s in stalled:
            s.close()
    finally:
        lab.stop()

    held = sum(results)
    print(f"tried {len(results)}, held {held}")
    sys.exit(0 if held == len(results) else 1)


if __name__ == "__main__":
    main()
