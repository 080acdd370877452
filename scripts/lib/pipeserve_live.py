"""Shared by scripts/loadtest and scripts/fuzz-http: start (or find) a pipeserve daemon, talk raw
HTTP/1.1 to it with asyncio (so tests control every byte, disconnect at will and time the
first token), read its resident memory and its /metrics gauges. Standard library only."""
import asyncio
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_model():
    env = os.environ.get("MODEL") or os.environ.get("PIPESERVE_MODEL")
    if env:
        return env
    cache = os.environ.get("PIPESERVE_CACHE", os.path.expanduser("~/.cache/pipeserve"))
    path = os.path.join(cache, "models", "gemma-3-270m-q4_k_m.gguf")
    if os.path.exists(path):
        return path
    return subprocess.run([os.path.join(REPO, "scripts", "fetch-model")], check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]


class Daemon:
    """A `pipeserve serve --port 0` started by us, with an optional configuration override."""

    def __init__(self, binary, config, model, overrides=None, extra_args=(), ready_timeout=120):
        fd, self.log_path = tempfile.mkstemp(prefix="pipeserve-live-", suffix=".log")
        self.config_path = None
        if overrides:
            self.config_path = write_config(config, overrides)
            config = self.config_path
        args = [binary, "serve", "--config", config, "--port", "0", "--model", model, *extra_args]
        self.log = os.fdopen(fd, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log, cwd=REPO)
        self.pid = self.proc.pid
        deadline = time.monotonic() + ready_timeout
        self.port = None
        while self.port is None:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"daemon did not start: {self.log_text()[-2000:]}")
            m = re.search(r"listening on http://[^:\s]+:(\d+)", self.log_text())
            if m:
                self.port = int(m.group(1))
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"
        while True:
            try:
                if http_get(self.url + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"daemon not healthy: {self.log_text()[-2000:]}")
            time.sleep(0.1)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def remove_log(self):
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log.close()
        if self.config_path:
            os.unlink(self.config_path)
        return self.proc.returncode


def write_config(base, overrides):
    """Copies the YAML file `base`, replacing `key: value` lines named in `overrides`
    ({"max_queue": 16}); keys must be unique leaf names in the file."""
    text = open(base).read()
    for key, value in overrides.items():
        text, n = re.subn(rf"(?m)^(\s*{re.escape(key)}:)\s*[^#\n]*", rf"\g<1> {value}    ", text)
        if n != 1:
            raise ValueError(f"{key} occurs {n} times in {base}")
    fd, path = tempfile.mkstemp(prefix="pipeserve-live-", suffix=".yaml")
    os.write(fd, text.encode())
    os.close(fd)
    return path


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def metrics(url):
    """The /metrics samples as {"name{labels}": value}."""
    _, text = http_get(url + "/metrics")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


GAUGES = ["pipeserve:num_requests_running", "pipeserve:num_requests_waiting",
          "pipeserve:kv_cache_usage_tokens", "pipeserve:tokens_in_flight"]


def pid_listening_on(port):
    """The pid owning the TCP listener on `port` (loopback daemons started by someone else)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in open(table).read().splitlines()[1:]:
                f = line.split()
                if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":
                    inodes.add(f[9])
        except OSError:
            pass
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


def process_tree(pid):
    """`pid` and all its descendants (the stage processes are children of the daemon)."""
    children = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{p}/stat").read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_bytes(pid):
    """VmRSS and RssAnon summed over `pid` and its descendants, and how many processes that was.
    (The rest of VmRSS is mostly the memory-mapped model: file pages, counted as they are touched.)"""
    total, anon, count = 0, 0, 0
    for p in process_tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    count += 1
                elif line.startswith("RssAnon:"):
                    anon += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total, anon, count


# ---------------------------------------------------------------------------------------------
# Raw asyncio HTTP/1.1


class Response:
    def __init__(self, status, headers, body=b""):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


async def open_request(url, method, path, body=b"", headers=None, raw_head=None):
    """Connects and sends a request (Connection: close). Returns (reader, writer)."""
    u = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port, limit=1 << 20)
    if raw_head is None:
        h = {"Host": f"{u.hostname}:{u.port}", "Connection": "close"}
        if body or method == "POST":
            h["Content-Type"] = "application/json"
            h["Content-Length"] = str(len(body))
        h.update(headers or {})
        raw_head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        raw_head = raw_head.encode()
    writer.write(raw_head + body)
    await writer.drain()
    return reader, writer


async def read_head(reader):
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed before a status line")
    parts = line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers


async def body_chunks(reader, headers):
    """Yields the body as it arrives (de-chunked)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = await reader.readline()
            if not size_line:
                raise ConnectionError("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return
            data = await reader.readexactly(size)
            await reader.readline()
            yield data
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if n:
            yield await reader.readexactly(n)
    else:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            yield data


async def request(url, method, path, body=b"", headers=None, timeout=60):
    """A whole request/response."""
    async def go():
        reader, writer = await open_request(url, method, path, body, headers)
        try:
            status, h = await read_head(reader)
            data = b"".join([c async for c in body_chunks(reader, h)])
            return Response(status, h, data)
        finally:
            writer.close()
    return await asyncio.wait_for(go(), timeout)


async def sse_events(reader, headers):
    """Yields the `data:` payloads of an SSE body (comments skipped)."""
    buf = b""
    async for chunk in body_chunks(reader, headers):
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if line.startswith(b"data: "):
                    yield line[6:].decode("utf-8")


def percentile(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]
