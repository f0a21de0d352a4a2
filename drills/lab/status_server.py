"""The lab's status page host: serves what is published in the DR-region bucket, like an S3 website.

A process of its own on the lab's status address (`python -m drills.lab.status_server`), so the
page stays up whatever happens to the database hosts; `crmdr lab up` starts it, `down` stops it.
It reads the bucket on every request (no cache), so a publication shows at once.
"""

import argparse
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from drills.lab import aws, network
from drills.lab.settings import LabPaths, LabSettings
from drills.lab.system import pid_alive, terminate
from drills.lab.topology import CUSTOMER_TOPIC, STATUS_BUCKET
from outage.adapters.s3_status import S3StatusStore
from policies.errors import DrError
from recovery.inventory import Inventory, StatusPage, load_inventory

log = logging.getLogger(__name__)


def site_path(request_path: str) -> str | None:
    """The object under the site root for a URL path; None for paths that cannot be one."""
    path = request_path.split("?", 1)[0].split("#", 1)[0]
    if ".." in path.split("/"):
        return None
    path = path.lstrip("/")
    return f"{path}index.html" if path == "" or path.endswith("/") else path


def handler(store: S3StatusStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "crmdr-status/1"

        def _answer(self, body: bool) -> None:
            key = site_path(self.path)
            try:
                found = store.get_site(key) if key else None
            except DrError as err:
                self._plain(503, f"status bucket unreachable: {err}\n", body)
                return
            if found is None:
                self._plain(404, f"not published: {self.path}\n", body)
                return
            data, content_type = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "max-age=10, must-revalidate")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _plain(self, code: int, text: str, body: bool) -> None:
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def log_message(self, format: str, *args: object) -> None:  # the stdlib's signature
            log.info("%s " + format, self.address_string(), *args)

    return Handler


def serve(inventory: Path, host: str, port: int) -> None:
    store = S3StatusStore(load_inventory(inventory))
    server = ThreadingHTTPServer((host, port), handler(store))
    server.daemon_threads = True
    server.serve_forever()


def provision(inventory: Inventory, settings: LabSettings) -> Inventory:
    """The page's bucket and the customers' topic (once); a lab from before the status page gains one."""
    if inventory.status is None:
        dr = inventory.regions.dr
        inventory = inventory.model_copy(update={"status": StatusPage(
            url=f"http://{settings.status_ip}:{settings.status_port}", bucket=STATUS_BUCKET,
            topic_arn=f"arn:aws:sns:{dr}:{aws.MOTO_ACCOUNT}:{CUSTOMER_TOPIC}")})
    aws.ensure_status_side(inventory)
    return inventory


def start(paths: LabPaths, settings: LabSettings, pid: int | None) -> int:
    """Start the server unless the one recorded is alive; return its pid."""
    if pid is not None and pid_alive(pid):
        return pid
    command = [sys.executable, "-m", "drills.lab.status_server", "--inventory", str(paths.inventory),
               "--host", str(settings.status_ip), "--port", str(settings.status_port)]
    return network.start_on(paths, "status", command, log=paths.status_log, ip=str(settings.status_ip),
                            port=settings.status_port, what="status page server")


def stop(pid: int | None) -> None:
    terminate(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.inventory, args.host, args.port)


if __name__ == "__main__":
    main()
