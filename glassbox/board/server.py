"""The read-only HTTP server behind `glassbox board`: the page, a JSON API over a runs directory, and the runs' files.

Standard library only. Routes (all GET; everything else is refused):

    /                                   the page (static/index.html); /static/<file> its script and style sheet
    /api/runs                           [{name, modified, status: running|finished|unknown, has: [file names]}]
    /api/runs/<name>/live?since=<byte>  {events: [...], offset, reset, more}: the lines of live.jsonl after byte
                                        `since` (a partial last line is left for the next call)
    /api/runs/<name>/files              [{name, size, modified}] of the files the board may serve
    /api/runs/<name>/metrics            metrics.json          /api/runs/<name>/diagnostics   diagnostics.json
    /api/runs/<name>/history            history.csv as columns {column: [values]}
    /api/runs/<name>/backprop           backprop_steps.json   /api/runs/<name>/lr_finder     lr_finder.json
    /runs/<name>/files/<file>           one file directly inside the run directory (png, svg, html, txt, json...)

A run is a subdirectory of the runs directory holding live.jsonl, metrics.json or history.csv. Names are checked
strictly: no "..", no separators (also percent-encoded), no symlinks leading out of the runs directory.
"""

import csv
import json
import math
import os
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote, urlsplit

LIVE_FILE = "live.jsonl"
RUN_MARKERS = ("live.jsonl", "metrics.json", "history.csv")
# Files the board serves from a run directory, by extension; anything else (weights, checkpoints) is not served.
FILE_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8", ".json": "application/json",
    ".jsonl": "application/x-ndjson", ".csv": "text/csv; charset=utf-8",
}
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
JSON_FILES = {"metrics": "metrics.json", "diagnostics": "diagnostics.json", "backprop": "backprop_steps.json",
              "lr_finder": "lr_finder.json"}
LIVE_CHUNK = 4 * 1024 * 1024  # the most bytes of live.jsonl sent in one answer (the page asks again when `more`)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
STALE_AFTER = 120.0  # seconds without a new line after which an unfinished run counts as 'unknown', not 'running'


class NotFound(Exception):
    """Answered with 404 and a JSON {"error": message}."""


class BadRequest(Exception):
    """Answered with 400 and a JSON {"error": message}."""


def _finite(value):
    """`value` with every NaN/inf float replaced by None, so that the answer is JSON a browser can parse."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _safe_name(text, what):
    """`text` if it is a plain file or directory name (no separators, not '.' or '..', not hidden), else NotFound."""
    if not text or text in (".", "..") or text.startswith(".") or any(c in text for c in "/\\\0"):
        raise NotFound(f"no such {what}: {text!r}")
    return text


class RunsDirectory:
    """Read-only views of the runs under `root` (a directory; it may not exist yet: then there are no runs)."""

    def __init__(self, root, stale_after=STALE_AFTER):
        self.root = os.path.realpath(str(root))
        self.stale_after = stale_after

    # ----- locating things safely ----------------------------------------------------------------------------------
    def run_path(self, name):
        """The directory of run `name`; NotFound unless it is a run directly inside the root (symlinks resolved)."""
        _safe_name(name, "run")
        path = os.path.realpath(os.path.join(self.root, name))
        if os.path.dirname(path) != self.root or not os.path.isdir(path) or not self._is_run(path):
            raise NotFound(f"no such run: {name!r}")
        return path

    def file_path(self, name, file_name):
        """A servable file directly inside run `name`: a regular file with a known extension, not a symlink out."""
        run = self.run_path(name)
        _safe_name(file_name, "file")
        path = os.path.realpath(os.path.join(run, file_name))
        extension = os.path.splitext(path)[1].lower()
        if os.path.dirname(path) != run or not os.path.isfile(path) or extension not in FILE_TYPES:
            raise NotFound(f"no such file in run {name!r}: {file_name!r}")
        return path

    @staticmethod
    def _is_run(path):
        return any(os.path.isfile(os.path.join(path, marker)) for marker in RUN_MARKERS)

    # ----- listings ------------------------------------------------------------------------------------------------
    def runs(self):
        """[{name, modified, status, has}] for every run, the most recently modified first."""
        if not os.path.isdir(self.root):
            return []
        out = []
        for entry in sorted(os.listdir(self.root)):
            try:
                path = self.run_path(entry)
            except NotFound:
                continue
            files = self.files(entry, path)
            modified = max([f["modified"] for f in files] + [os.path.getmtime(path)])
            out.append({"name": entry, "modified": modified, "status": self.status(path),
                        "has": [f["name"] for f in files]})
        out.sort(key=lambda run: -run["modified"])
        return out

    def files(self, name, path=None):
        """[{name, size, modified}] of the files of run `name` that the board serves, by name."""
        path = path or self.run_path(name)
        out = []
        for file_name in sorted(os.listdir(path)):
            try:
                full = self.file_path(name, file_name)
            except NotFound:
                continue
            stat = os.stat(full)
            out.append({"name": file_name, "size": stat.st_size, "modified": stat.st_mtime})
        return out

    def status(self, path):
        """'finished' when live.jsonl ends with an end line (or, without live.jsonl, when metrics.json exists);
        'running' when it has begun, not ended and grew in the last `stale_after` seconds; else 'unknown'."""
        live = os.path.join(path, LIVE_FILE)
        if not os.path.isfile(live):
            return "finished" if os.path.isfile(os.path.join(path, "metrics.json")) else "unknown"
        first, last = _first_and_last_lines(live)
        if last is not None and last.get("event") == "end":
            return "finished"
        if first is not None and first.get("event") == "begin" and \
                time.time() - os.path.getmtime(live) < self.stale_after:
            return "running"
        return "unknown"

    # ----- contents ------------------------------------------------------------------------------------------------
    def live(self, name, since=0):
        """The events of live.jsonl from byte `since` on: {events, offset, reset, more}. Only complete lines are
        read; `offset` is where the next call starts. A file shorter than `since` was restarted: read it from 0
        and say reset=True. Lines that are not JSON objects are skipped."""
        path = os.path.join(self.run_path(name), LIVE_FILE)
        if not os.path.isfile(path):
            raise NotFound(f"run {name!r} has no {LIVE_FILE}")
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            reset = since > size
            if reset:
                since = 0
            handle.seek(since)
            data = handle.read(LIVE_CHUNK)
        end = data.rfind(b"\n") + 1  # 0 when there is no complete line yet
        events = []
        for line in data[:end].splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(_finite(event))
        # more: the chunk stopped before the end of the file (not merely at a line still being written).
        return {"events": events, "offset": since + end, "reset": reset, "more": since + len(data) < size and end > 0}

    def json_file(self, name, file_name):
        path = os.path.join(self.run_path(name), file_name)
        if not os.path.isfile(path):
            raise NotFound(f"run {name!r} has no {file_name}")
        with open(path, encoding="utf-8") as handle:
            try:
                return _finite(json.load(handle))
            except ValueError as error:
                raise NotFound(f"run {name!r}: {file_name} is not valid JSON ({error})") from None

    def history(self, name):
        """history.csv as {column: [values]}: numbers as floats, empty or non-numeric cells as None or text."""
        path = os.path.join(self.run_path(name), "history.csv")
        if not os.path.isfile(path):
            raise NotFound(f"run {name!r} has no history.csv")
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return {}
        header, columns = rows[0], {key: [] for key in rows[0]}
        for row in rows[1:]:
            for index, key in enumerate(header):
                columns[key].append(_cell(row[index] if index < len(row) else ""))
        return columns


def _cell(text):
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else None


def _first_and_last_lines(path, tail=8192):
    """The first and the last complete lines of a JSON-lines file, parsed (None where missing or not JSON)."""
    def parse(line):
        try:
            value = json.loads(line)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    with open(path, "rb") as handle:
        head = handle.readline()
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, size - tail))
        lines = handle.read().split(b"\n")
    # The text after the last newline is a line still being written: not complete, so not the last line.
    complete = [line for line in lines[:-1] if line.strip()]
    first = parse(head) if head.endswith(b"\n") else None
    return first, (parse(complete[-1]) if complete else None)


def _static(file_name):
    """The bytes of static/<file_name> of this package, or NotFound."""
    _safe_name(file_name, "static file")
    extension = os.path.splitext(file_name)[1]
    if extension not in STATIC_TYPES:
        raise NotFound(f"no such static file: {file_name!r}")
    try:
        return resources.files("glassbox.board").joinpath("static", file_name).read_bytes(), STATIC_TYPES[extension]
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound(f"no such static file: {file_name!r}") from None


class BoardHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD from `self.server.runs` (a RunsDirectory); nothing is ever written."""

    server_version = "glassbox-board"
    quiet = True

    def log_message(self, format, *args):  # one line per request would drown the terminal while the page polls
        if not self.quiet:
            super().log_message(format, *args)

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        if not self.server.host_allowed(self.headers.get("Host", "")):
            # A web page elsewhere could point its own domain name at 127.0.0.1 (DNS rebinding) and read the runs
            # through the visitor's browser; its requests carry its domain in Host, so they are refused.
            body = json.dumps({"error": "this board only answers requests addressed to this machine"}).encode()
            self.send(HTTPStatus.FORBIDDEN, body, "application/json", head)
            return
        url = urlsplit(self.path)
        # Split before decoding, so that an encoded '/' (%2F) stays inside one part and is refused by _safe_name.
        parts = [unquote(part) for part in url.path.split("/")[1:]]
        try:
            body, content_type = self.route(parts, parse_qs(url.query))
        except (NotFound, BadRequest) as error:
            status = HTTPStatus.NOT_FOUND if isinstance(error, NotFound) else HTTPStatus.BAD_REQUEST
            self.send(status, json.dumps({"error": str(error)}).encode(), "application/json", head)
            return
        except (OSError, ValueError) as error:  # a file vanished or changed under us: say so, do not crash
            body = json.dumps({"error": f"{type(error).__name__}: {error}"}).encode()
            self.send(HTTPStatus.INTERNAL_SERVER_ERROR, body, "application/json", head)
            return
        self.send(HTTPStatus.OK, body, content_type, head)

    def send(self, status, body, content_type, head=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # runs change while they train
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def route(self, parts, query):
        runs = self.server.runs
        if parts in ([""], ["index.html"]):
            return _static("index.html")
        if len(parts) == 2 and parts[0] == "static":
            return _static(parts[1])
        if len(parts) == 4 and parts[0] == "runs" and parts[2] == "files":
            path = runs.file_path(parts[1], parts[3])
            with open(path, "rb") as handle:
                return handle.read(), FILE_TYPES[os.path.splitext(path)[1].lower()]
        if parts[:2] == ["api", "runs"]:
            if len(parts) == 2:
                return _json(runs.runs())
            if len(parts) == 4:
                name, what = parts[2], parts[3]
                if what == "live":
                    since = query.get("since", ["0"])[0]
                    if not since.isdigit():
                        raise BadRequest(f"live: since must be a byte offset >= 0, got {since!r}")
                    return _json(runs.live(name, int(since)))
                if what == "files":
                    return _json(runs.files(name))
                if what == "history":
                    return _json(runs.history(name))
                if what in JSON_FILES:
                    return _json(runs.json_file(name, JSON_FILES[what]))
        raise NotFound(f"no such page: /{'/'.join(parts)}")


def _json(value):
    return json.dumps(value, allow_nan=False).encode(), "application/json"


class BoardServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer serving the board for the runs under `runs_dir`. Port 0 picks a free port."""

    daemon_threads = True  # an open polling connection must not keep the process alive after Ctrl-C

    def __init__(self, runs_dir, host="127.0.0.1", port=6006, stale_after=STALE_AFTER):
        self.runs = RunsDirectory(runs_dir, stale_after=stale_after)
        super().__init__((host, port), BoardHandler)

    def host_allowed(self, header):
        """Whether a request's Host header may be answered: any, unless the board listens on loopback only."""
        if self.server_address[0] not in LOOPBACK:
            return True
        name = header[1:header.find("]")] if header.startswith("[") else header.rsplit(":", 1)[0]
        return name.lower() in LOOPBACK

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def make_server(runs_dir, host="127.0.0.1", port=6006, stale_after=STALE_AFTER):
    """A BoardServer bound to host:port (not yet serving: call serve_forever(), in a thread if you like)."""
    return BoardServer(runs_dir, host=host, port=port, stale_after=stale_after)
