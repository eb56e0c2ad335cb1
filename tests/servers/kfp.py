"""A fake Kubeflow Pipelines API server on loopback that records what a client sends it.

It answers just enough of the v2beta1 REST API for kfp.Client to create an experiment and a run.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict]

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        entry = {"method": self.command, "path": self.path, "body": body}
        self.server.requests.append(entry)
        return entry

    def do_GET(self):  # noqa: N802 - the http.server API
        entry = self._record()
        if "healthz" in entry["path"]:
            self._answer({"commit_sha": "fake", "tag_name": "2.4.0", "multi_user": False})
        elif "experiments" in entry["path"]:
            self._answer({"experiments": [], "total_size": 0})
        else:
            self._answer({})

    def do_POST(self):  # noqa: N802
        entry = self._record()
        if entry["path"].endswith("/experiments"):
            self._answer({"experiment_id": "experiment-1", "display_name": entry["body"]["display_name"]})
        elif entry["path"].endswith("/runs"):
            self._answer({"run_id": "run-1", "display_name": entry["body"].get("display_name"), "state": "PENDING"})
        else:
            self._answer({})

    def log_message(self, *args):  # keep test output quiet
        pass


@contextmanager
def fake_kfp_server():
    """Yields (url, requests); the list fills as the client calls."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()
        server.server_close()
