"""Helpers of the webhook tests: a real HTTP receiver on 127.0.0.1 (http.server in a
thread) and a factory of endpoints. Imported as ``webhooks.webhook_helpers``."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from organizations.directory_factories import make_org, make_user

from portal.accounts.models import Role
from portal.organizations.models import Organization, OrganizationKind
from portal.webhooks.models import EventType
from portal.webhooks.services import EndpointValues, NewSecret, create_endpoint


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server that records each POST and answers ``status``; with a ``gate``,
    each request waits for the test to set it before it is answered (a slow receiver)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.gate: threading.Event | None = None
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    receiver.arrived.notify_all()
                if receiver.gate is not None:
                    receiver.gate.wait(timeout=30)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/portal"

    def wait_for(self, count: int, timeout: float = 15.0) -> bool:
        """Woken by each arrival, not by polling: True once ``count`` requests came."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_endpoint(
    url: str,
    events: list[str] | None = None,
    organization: Organization | None = None,
) -> NewSecret:
    """An endpoint of ``organization`` (a new vendor unless given), made by a member."""
    organization = organization or make_org(OrganizationKind.VENDOR)
    member = make_user(
        Role.VENDOR if organization.is_vendor else Role.BUYER, organization=organization
    )
    created = create_endpoint(
        organization,
        EndpointValues(url=url, description="", events=events or [EventType.NEED_PUBLISHED]),
        member,
    )
    return created
