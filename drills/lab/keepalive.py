"""A thin HTTP/1.1 keep-alive front for the lab's moto server, for tests of cuts on reused connections.

moto's server (werkzeug) answers every request with `Connection: close`, so a client's next
request always opens a new connection, and a lab cut always meets a connect. S3 keeps
connections alive; boto3 pools and reuses them. This front keeps each client connection open
across requests and forwards every request to moto on a connection of its own. Run it inside
the AWS host's namespace (`drills.lab.network.in_namespace`): its hop to moto then stays on that
namespace's lo, which a cut spares, while its clients' connections cross the cut veth.

    python -m drills.lab.keepalive LISTEN_HOST LISTEN_PORT MOTO_HOST MOTO_PORT

Each request is logged to stdout as `conn=N req=M METHOD PATH`, so a test can show that a request
went over a connection that had already served another.
"""

import http.client
import itertools
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"})
COPY_CHUNK = 1024 * 1024
_connections = itertools.count(1)
_log = threading.Lock()


class _Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection carries many requests
    upstream: tuple[str, int] = ("127.0.0.1", 0)

    def setup(self) -> None:
        super().setup()
        self.number, self.served = next(_connections), 0

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the one line per request is written by `_forward`."""

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self) -> None:
        self.served += 1
        with _log:
            print(f"conn={self.number} req={self.served} {self.command} {self.path}", flush=True)
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*self.upstream, timeout=600)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            self._relay(answer)
        finally:
            upstream.close()

    def _relay(self, answer: http.client.HTTPResponse) -> None:
        length = answer.getheader("Content-Length")
        data = b"" if length is not None or self.command == "HEAD" else answer.read()
        self.send_response_only(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", length if length is not None else str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if length is None:
            self.wfile.write(data)
            return
        while chunk := answer.read(COPY_CHUNK):
            self.wfile.write(chunk)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward


def main(argv: list[str]) -> None:
    host, port, moto_host, moto_port = argv
    _Front.upstream = (moto_host, int(moto_port))
    server = ThreadingHTTPServer((host, int(port)), _Front)
    server.daemon_threads = True
    print(f"keep-alive front on {host}:{port} -> {moto_host}:{moto_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
