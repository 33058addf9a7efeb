"""Load test: 50 simulated users for 60 s against gunicorn on PostgreSQL with the dev set.

    .venv/bin/python benchmarks/load_test.py --data PATH/TO/dev.jsonl

Builds everything it needs and removes it afterwards: a fresh PostgreSQL database on
127.0.0.1:5432 (user postgres, trust), a temporary index and model directory, a small SMTP
sink for the mail the worker delivers. It loads the exchange file, computes the sentence
vectors, creates staff and member accounts, then starts gunicorn (deploy/gunicorn.conf.py,
2 workers) and ``portal worker`` beside it, with ``portal index rebuild`` running in a loop
underneath until the end.

Each simulated user is a thread with its own cookie session that logs in through the real
form with its CSRF token, then browses without pause: directory pages with filters and
pages, search with facets, leads pages, profile edits, and introduction steps (members
ask, staff take for review and approve, the other side accepts). Every member edits its
organization's profile and staff edit them too, so two people often save one profile at
once: each edit appends a unique marker to the summary of the form it loaded and sends
back the version that form was opened on. A save over someone else's is refused with 409
and the form again (stale-edit detection); the user then reloads and tries once more. A
step refused because another user got there first (a 409 edit, an introduction step
taken meanwhile) is a correct answer, counted; a 5xx, a connection error or any other
unexpected status is an error.

Then, at the same concurrency, short alternating phases of only a trivial page (/healthz,
and the home page) and only leads pages (a vendor's /leads, a buyer's need page), for a
fair ratio of requests per second. Finally it checks that every edit the server confirmed
(302) has its marker in the database, that no edit refused with 409 has, and that every
recorded introduction step is there. Exit status 1 on any error, any lost write, any
refused edit written anyway, or a leads/trivial ratio under 0.25 (against the faster
trivial page).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.cookiejar
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from search_words import SEARCH_WORDS

from portal.vocab import ASEAN_COUNTRIES, SECTORS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORTAL = BIN / "portal"
GUNICORN = BIN / "gunicorn"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PASSWORD = "load-test-password-" + secrets.token_hex(4)
MAIL_DOMAIN = "loadtest.example.org"
REQUEST_TIMEOUT = 120.0


# --- HTTP ------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at (a 302 after a POST is the success)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Response:
    status: int
    location: str
    body: str


class FormParser(HTMLParser):
    """Every <form> of a page: its action, method and the fields a browser would send."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self._select_multiple = False
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get"), "f": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            if kind in {"submit", "button", "image", "file"}:
                return
            self._form["f"].append([a["name"], a.get("value", "on" if kind == "checkbox" else "")])
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["f"].append([a["name"], ""])
        elif tag == "select" and a.get("name"):
            self._select, self._select_multiple = a["name"], "multiple" in a
            self._options = []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._form is not None:
            self._form["f"][-1][1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not self._select_multiple and self._options:
                chosen = [self._options[0][0]]
            self._form["f"].extend([self._select, value] for value in chosen)
            self._select = None
        elif tag == "form":
            self._form = None


def forms_of(body: str) -> list[dict[str, Any]]:
    parser = FormParser()
    parser.feed(body)
    # A textarea's first newline is not part of its value (HTML parsing rule).
    for form in parser.forms:
        for pair in form["f"]:
            if pair[1].startswith("\n"):
                pair[1] = pair[1][1:]
    return parser.forms


def form_with(body: str, action_suffix: str) -> dict[str, Any] | None:
    for form in forms_of(body):
        if form["method"].lower() == "post" and form["action"].split("?")[0].endswith(
            action_suffix
        ):
            return form
    return None


def form_having(body: str, field_name: str) -> dict[str, Any] | None:
    """The POST form with this field (not, say, the logout button in the page header)."""
    for form in forms_of(body):
        if form["method"].lower() == "post" and any(n == field_name for n, _ in form["f"]):
            return form
    return None


FLASH = re.compile(r'class="flash flash-(\w+)"')
STALE_EDIT = "since you opened it; your changes are below"  # the 409 page's message
INTRO_LINK = re.compile(r'href="/introductions/(\d+)"')


class Stats:
    """Requests and outcomes by kind, shared by every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.samples: list[str] = []
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.latency: dict[str, list[float]] = collections.defaultdict(list)

    def request(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.requests[kind] += 1
            self.latency[kind].append(seconds)

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.samples) < 30:
                self.samples.append(what)

    def outcome(self, name: str) -> None:
        with self.lock:
            self.outcomes[name] += 1


class Unexpected(Exception):
    """A response the simulated user cannot go on from; already counted as an error."""


class Client:
    """One browser: its own cookie jar, no automatic redirects."""

    def __init__(self, base: str, stats: Stats) -> None:
        self.base = base
        self.stats = stats
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def call(
        self,
        kind: str,
        path: str,
        data: list[Any] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Response:
        url = path if path.startswith("http") else self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body)  # noqa: S310 - http to loopback only
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=REQUEST_TIMEOUT) as answer:
                response = Response(answer.status, "", answer.read().decode())
        except urllib.error.HTTPError as answer:
            response = Response(
                answer.code, answer.headers.get("Location", ""), answer.read().decode()
            )
        except (OSError, urllib.error.URLError) as exc:
            self.stats.request(kind, time.perf_counter() - started)
            self.stats.error("connection", f"{kind} {path}: {type(exc).__name__}: {exc}")
            raise Unexpected from exc
        self.stats.request(kind, time.perf_counter() - started)
        if response.status >= 500:
            self.stats.error("5xx", f"{kind} {path}: {response.status}")
            raise Unexpected
        if response.status not in expect:
            self.stats.error("unexpected status", f"{kind} {path}: {response.status}")
            raise Unexpected
        return response

    def get(self, kind: str, path: str, expect: tuple[int, ...] = (200,)) -> Response:
        return self.call(kind, path, None, expect)

    def follow(self, kind: str, response: Response) -> Response:
        return self.get(kind, urllib.parse.urlsplit(response.location).path or "/")

    def submit(
        self, kind: str, page_path: str, form: dict[str, Any], expect: tuple[int, ...] = (302,)
    ) -> Response:
        action = form["action"] or page_path
        return self.call(kind, action, [tuple(pair) for pair in form["f"]], expect)

    def login(self, email: str) -> None:
        page = self.get("login", "/login")
        form = form_with(page.body, "/login") or {"action": "/login", "f": []}
        fields = {name: value for name, value in form["f"]}
        fields.update(email=email, password=PASSWORD)
        form["f"] = list(fields.items())
        self.submit("login", "/login", form)


# --- the simulated users -------------------------------------------------------------------


@dataclass
class World:
    """What the simulated users know: references from the data file and the accounts."""

    vendors: list[str]
    buyers: list[str]
    open_needs: list[str]
    own_needs: dict[str, list[str]]  # buyer ref -> its open needs
    members: list[tuple[str, str, str]]  # email, kind, org ref
    staff: list[str]


@dataclass
class Records:
    """Writes the server confirmed, to be found in the database afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    markers: list[tuple[str, str]] = field(default_factory=list)  # org ref, marker
    refused: list[tuple[str, str]] = field(default_factory=list)  # 409: must not be saved
    steps: list[tuple[int, str, frozenset[str]]] = field(default_factory=list)

    def marker(self, ref: str, marker: str) -> None:
        with self.lock:
            self.markers.append((ref, marker))

    def refusal(self, ref: str, marker: str) -> None:
        with self.lock:
            self.refused.append((ref, marker))

    def step(self, introduction: int, email: str, states: frozenset[str]) -> None:
        with self.lock:
            self.steps.append((introduction, email, states))


class User:
    def __init__(
        self,
        client: Client,
        world: World,
        records: Records,
        rng: random.Random,
        *,
        kind: str,
        email: str = "",
        ref: str = "",
    ) -> None:
        self.c, self.world, self.records, self.rng = client, world, records, rng
        self.kind, self.email, self.ref = kind, email, ref

    # browsing, for everyone
    def directory(self) -> None:
        rng = self.rng
        sector = rng.choice([*SECTORS, "", ""])
        country = rng.choice([*ASEAN_COUNTRIES, "", ""])
        page = rng.choice([1, 1, 1, 2, 3])
        path, param = rng.choice(
            [("/vendors", "market"), ("/buyers", "country"), ("/needs", "country")]
        )
        query = {"sector": sector, param: country, "page": page}
        self.c.get("directory", f"{path}?{urllib.parse.urlencode(query)}")
        detail = rng.choice(
            [
                f"/vendors/{rng.choice(self.world.vendors)}",
                f"/buyers/{rng.choice(self.world.buyers)}",
                f"/needs/{rng.choice(self.world.open_needs)}",
            ]
        )
        self.c.get("detail", detail)

    def search(self) -> None:
        rng = self.rng
        query = {"q": " ".join(rng.sample(SEARCH_WORDS, rng.randint(1, 3)))}
        if rng.random() < 0.5:
            query["kind"] = rng.choice(["vendor", "buyer", "need"])
        if rng.random() < 0.4:
            query["sector"] = rng.choice(list(SECTORS))
        if rng.random() < 0.3:
            query["market"] = rng.choice(list(ASEAN_COUNTRIES))
        if rng.random() < 0.2:
            query["page"] = "2"
        self.c.get("search", f"/search?{urllib.parse.urlencode(query)}")

    def leads(self) -> None:
        if self.kind == "vendor":
            self.c.get("leads", "/leads")
        elif self.kind == "buyer":
            self.c.get("leads", f"/needs/{self.rng.choice(self.world.own_needs[self.ref])}")

    # writes
    def edit_profile(self) -> None:
        """A member edits its own profile; staff edit one of the members' organizations."""
        if self.kind == "staff":
            ref = self.rng.choice(self.world.members)[2]
            path = f"/organizations/{ref}/edit"
        else:
            ref = self.ref
            moved = self.c.get("profile", "/organization/edit", expect=(302,))
            path = urllib.parse.urlsplit(moved.location).path
        for attempt in ("first", "after reloading"):
            if self._save_profile(ref, path, attempt):
                return

    def _save_profile(self, ref: str, path: str, attempt: str) -> bool:
        """Load the form, append a marker, save: True if saved, False if refused (409)."""
        page = self.c.get("profile", path)
        form = form_having(page.body, "summary")
        if form is None or not any(name == "version" for name, _ in form["f"]):
            self.c.stats.error("unexpected page", f"no profile form with a version at {path}")
            raise Unexpected
        marker = f"lt{secrets.token_hex(6)}"
        for pair in form["f"]:
            if pair[0] == "summary":
                pair[1] = f"{pair[1].rstrip()} {marker}".strip()
        answer = self.c.submit("profile-save", path, form, expect=(302, 409))
        if answer.status == 302:
            self.records.marker(ref, marker)
            self.c.stats.outcome(f"profile edit saved ({attempt})")
            return True
        if STALE_EDIT not in answer.body:
            self.c.stats.error("unexpected page", f"a 409 without the stale-edit message at {path}")
            raise Unexpected
        self.records.refusal(ref, marker)
        self.c.stats.outcome(f"profile edit refused as stale, 409 ({attempt})")
        return False

    def request_introduction(self) -> None:
        rng = self.rng
        if self.kind == "vendor":
            buyer = rng.choice(list(self.world.own_needs))
            args = {"with": buyer}
            if rng.random() < 0.6:
                args = {"need": rng.choice(self.world.own_needs[buyer])}
        else:
            args = {"with": rng.choice(self.world.vendors)}
        path = f"/introductions/new?{urllib.parse.urlencode(args)}"
        page = self.c.get("intro-request", path)
        form = form_having(page.body, "message")
        if form is None:
            self.c.stats.error("unexpected page", f"no request form at {path}")
            raise Unexpected
        form["f"] = [
            [n, f"Load test {secrets.token_hex(3)}" if n == "message" else v] for n, v in form["f"]
        ]
        answer = self.c.submit("intro-request", path, form, expect=(302, 400))
        if answer.status == 400:
            if 'name="message"' not in answer.body:
                self.c.stats.error("unexpected page", f"a 400 without the form at {path}")
                raise Unexpected
            self.c.stats.outcome("introduction request refused (pair already has one)")
            return
        match = re.search(r"/introductions/(\d+)", answer.location)
        if match is None:
            self.c.stats.error("unexpected page", f"request redirected to {answer.location}")
            raise Unexpected
        self.records.step(int(match.group(1)), self.email, frozenset({"requested"}))
        self.c.stats.outcome("introduction requested")
        self.c.follow("intro-detail", answer)

    def _step(self, introduction: int, suffix: str, states: frozenset[str], name: str) -> bool:
        """Take the step whose form is on the introduction's page, if it is there."""
        path = f"/introductions/{introduction}"
        page = self.c.get("intro-detail", path)
        form = form_with(page.body, suffix)
        if form is None:
            return False
        answer = self.c.submit(f"intro-{name}", path, form)
        shown = self.c.follow("intro-detail", answer)
        categories = FLASH.findall(shown.body)
        if "success" in categories:
            self.records.step(introduction, self.email, states)
            self.c.stats.outcome(f"introduction {name}")
        elif "warning" in categories:
            self.c.stats.outcome(f"introduction {name} refused (moved on meanwhile)")
        else:
            self.c.stats.error("unexpected page", f"{name} on {path}: no message {categories}")
        return True

    def accept_introductions(self) -> None:
        page = self.c.get("intro-list", "/introductions")
        ids = list(dict.fromkeys(int(i) for i in INTRO_LINK.findall(page.body)))
        self.rng.shuffle(ids)
        for introduction in ids[:3]:
            states = frozenset({"accepted", "introduced"})
            if self._step(introduction, "/accept", states, "accepted"):
                return

    def staff_review(self) -> None:
        """Approve what is under review, else take a request for review: the pipeline moves
        on, so that members find introductions to accept."""
        for state, suffix, target, name in (
            ("under_review", "/approve", "approved", "approved"),
            ("requested", "/review", "under_review", "taken for review"),
        ):
            page = self.c.get("intro-list", f"/staff/introductions?state={state}")
            ids = list(dict.fromkeys(int(i) for i in INTRO_LINK.findall(page.body)))[:5]
            if ids:
                self._step(self.rng.choice(ids), suffix, frozenset({target}), name)
                return

    def one_action(self) -> None:
        r = self.rng.random()
        if self.kind == "anonymous":
            (self.directory if r < 0.6 else self.search)()
        elif self.kind == "staff":
            if r < 0.55:
                self.staff_review()
            elif r < 0.65:
                self.c.get("dashboard", "/staff/dashboard")
            elif r < 0.75:
                self.directory()
            elif r < 0.85:
                self.edit_profile()  # on a member's behalf: races the members' own edits
            else:
                self.search()
        elif r < 0.25:
            self.directory()
        elif r < 0.45:
            self.search()
        elif r < 0.65:
            self.leads()
        elif r < 0.77:
            self.edit_profile()
        elif r < 0.87:
            self.request_introduction()
        else:
            self.accept_introductions()


def run_users(users: list[User], seconds: float, stop: threading.Event) -> None:
    deadline = time.monotonic() + seconds

    def loop(user: User) -> None:
        while time.monotonic() < deadline and not stop.is_set():
            with contextlib.suppress(Unexpected):
                user.one_action()

    threads = [threading.Thread(target=loop, args=(u,), daemon=True) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def phase(
    name: str, clients: list[Client], paths: list[str], seconds: float, stop: threading.Event
) -> int:
    """Client i GETs path i over and over for ``seconds``; how many 200s were answered."""
    done = [0] * len(clients)
    deadline = time.monotonic() + seconds

    def loop(i: int) -> None:
        while time.monotonic() < deadline and not stop.is_set():
            with contextlib.suppress(Unexpected):
                clients[i].get(f"phase {name}", paths[i])
                done[i] += 1

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done)


# --- the processes -------------------------------------------------------------------------


class Processes:
    """Everything started, stopped in reverse on the way out (also on Ctrl-C)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []
        self.lock = threading.Lock()
        self.closed = False

    def start(
        self, name: str, args: list[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes] | None:
        """Start ``args`` with its output in ``name.log``; None once stop_all has begun."""
        with self.lock:
            if self.closed:
                return None
            with (self.logs / f"{name}.log").open("ab") as log:
                process = subprocess.Popen(  # noqa: S603 - our own commands
                    args,
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
                )
            self.running.append(process)
            return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(ValueError):
            self.running.remove(process)

    def stop_all(self) -> None:
        with self.lock:
            self.closed = True
        for process in reversed(list(self.running)):
            self.stop(process)


def run(args: list[str], env: dict[str, str], what: str) -> str:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own CLI
        [str(PORTAL), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stdout}\n{done.stderr}")
    print(f"  {what}: {time.perf_counter() - started:.1f} s  {done.stdout.strip()[-120:]}")
    return done.stdout


class RebuildLoop(threading.Thread):
    """``portal index rebuild`` again and again until told to stop."""

    def __init__(self, processes: Processes, env: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.processes, self.env = processes, env
        self.stopping = threading.Event()
        self.runs = 0
        self.failures = 0
        self.durations: list[float] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            process = self.processes.start(
                "rebuild", [str(PORTAL), "index", "rebuild", "--no-progress"], self.env
            )
            if process is None:
                break
            code = process.wait()
            with contextlib.suppress(ValueError):
                self.processes.running.remove(process)
            if self.stopping.is_set() and code != 0:
                break  # stopped by us
            self.runs += 1
            self.durations.append(time.perf_counter() - started)
            if code != 0:
                self.failures += 1

    def halt(self) -> None:
        self.stopping.set()
        self.join()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, gunicorn: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise SystemExit("gunicorn exited; see its log")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)  # polling a server that is starting up
    raise SystemExit("gunicorn did not answer /healthz in time")


class MailSink:
    """An SMTP server on loopback that accepts and counts what the worker delivers."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.count = 0
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.count += 1
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


# --- setup and checks ----------------------------------------------------------------------


def create_accounts(args: argparse.Namespace) -> World:
    """Staff and member accounts through the portal's own services (this process)."""
    import sqlalchemy as sa

    from portal import create_app
    from portal.accounts.models import Role
    from portal.accounts.services import create_user
    from portal.extensions import db
    from portal.needs.models import Need
    from portal.organizations.models import Organization, OrganizationKind

    rng = random.Random(args.seed)
    app = create_app()
    with app.app_context():
        verified = Organization.status == "verified"
        vendors = db.session.scalars(
            sa.select(Organization.ref).where(
                Organization.kind == OrganizationKind.VENDOR, verified
            )
        ).all()
        buyers = db.session.scalars(
            sa.select(Organization.ref).where(Organization.kind == OrganizationKind.BUYER, verified)
        ).all()
        own_needs: dict[str, list[str]] = collections.defaultdict(list)
        for need_ref, buyer_ref in db.session.execute(
            sa.select(Need.ref, Organization.ref)
            .join(Organization, Need.buyer_id == Organization.id)
            .where(Need.is_public)
        ):
            own_needs[buyer_ref].append(need_ref)
        members: list[tuple[str, str, str]] = []
        per_kind = args.users * 2 // 5
        for kind, pool in (("vendor", sorted(vendors)), ("buyer", sorted(own_needs))):
            refs = rng.sample(pool, min(args.orgs, len(pool)))
            for i in range(per_kind):
                ref = refs[i % len(refs)]
                org = db.session.scalar(sa.select(Organization).where(Organization.ref == ref))
                email = f"{kind}{i}@{MAIL_DOMAIN}"
                create_user(
                    email, PASSWORD, Role(kind), organization_id=org.id, email_confirmed=True
                )
                members.append((email, kind, ref))
        staff = []
        for i in range(max(1, args.users // 10)):
            email = f"staff{i}@{MAIL_DOMAIN}"
            create_user(email, PASSWORD, Role.STAFF, email_confirmed=True)
            staff.append(email)
        db.session.commit()
    return World(
        vendors=list(vendors),
        buyers=list(buyers),
        open_needs=[n for needs in own_needs.values() for n in needs],
        own_needs=dict(own_needs),
        members=members,
        staff=staff,
    )


def check_writes(database_url: str, records: Records) -> tuple[int, int, list[str], list[str]]:
    """Confirmed markers and introduction steps missing from the database (lost writes),
    and markers of edits refused with 409 found in it (a refusal that wrote anyway)."""
    import psycopg

    lost: list[str] = []
    with psycopg.connect(database_url) as conn:
        summaries = dict(conn.execute("SELECT ref, summary FROM organizations").fetchall())
        users = dict(conn.execute("SELECT email, id FROM users").fetchall())
        events = set(
            conn.execute(
                "SELECT introduction_id, actor_id, to_state FROM introduction_events "
                "WHERE kind = 'transition'"
            ).fetchall()
        )
    for ref, marker in records.markers:
        if marker not in (summaries.get(ref) or "").split():
            lost.append(f"edit {marker} of {ref}")
    written_anyway = [
        f"refused edit {marker} of {ref}"
        for ref, marker in records.refused
        if marker in (summaries.get(ref) or "").split()
    ]
    for introduction, email, states in records.steps:
        if not any((introduction, users.get(email), state) in events for state in states):
            lost.append(f"introduction {introduction}: {email} -> {'/'.join(sorted(states))}")
    return len(records.markers), len(records.steps), lost, written_anyway


def scan_log(path: Path) -> int:
    """Tracebacks the server side wrote: each one is an error the clients may not see."""
    if not path.exists():
        return 0
    return path.read_text(errors="replace").count("Traceback (most recent call last)")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="an exchange JSON Lines file")
    parser.add_argument("--users", type=int, default=50, help="concurrent simulated users")
    parser.add_argument("--seconds", type=float, default=60, help="length of the mixed run")
    parser.add_argument("--phase-seconds", type=float, default=8, help="each rps phase")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the rps phases")
    parser.add_argument("--orgs", type=int, default=12, help="organizations per kind with logins")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--model-from", type=Path, help="copy an already prepared model from this directory"
    )
    parser.add_argument("--keep-logs", action="store_true", help="print where the logs are kept")
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(f"no such file: {args.data}")

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # even when started with SIGINT ignored (&)

    import psycopg

    workdir = Path(tempfile.mkdtemp(prefix="portal-load-"))
    dbname = f"portal_load_{os.getpid()}_{secrets.token_hex(3)}"
    database_url = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
    processes = Processes(workdir)
    stop = threading.Event()
    rebuilds: RebuildLoop | None = None
    created_db = False
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        created_db = True
        (workdir / "index").mkdir()
        (workdir / "models").mkdir()
        if args.model_from:
            for prepared in args.model_from.glob("*.onnx"):
                shutil.copy2(prepared, workdir / "models" / prepared.name)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with MailSink() as mail:
            env = {
                **os.environ,
                "PORTAL_DATABASE_URL": database_url,
                "PORTAL_INDEX_DIR": str(workdir / "index"),
                "PORTAL_MODEL_DIR": str(workdir / "models"),
                "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
                "PORTAL_BASE_URL": base,
                "PORTAL_RATELIMIT_ENABLED": "false",  # every simulated user is 127.0.0.1
                "PORTAL_MAIL_DELIVERY": "worker",
                "PORTAL_MAIL_SERVER": "127.0.0.1",
                "PORTAL_MAIL_PORT": str(mail.port),
                "PORTAL_BIND": f"127.0.0.1:{port}",
                "PORTAL_WEB_WORKERS": "2",
            }
            os.environ.update({k: v for k, v in env.items() if k.startswith("PORTAL_")})
            print(f"setup (database {dbname}):")
            run(["db", "upgrade"], env, "portal db upgrade")
            run(["import", str(args.data)], env, "portal import")
            run(["index", "rebuild", "--no-progress"], env, "portal index rebuild")
            run(["leads", "vectors", "--no-progress"], env, "portal leads vectors")
            started = time.perf_counter()
            world = create_accounts(args)
            print(
                f"  accounts: {len(world.members)} members of {args.orgs} vendors and "
                f"{args.orgs} buyers, {len(world.staff)} staff "
                f"({time.perf_counter() - started:.1f} s)"
            )

            gunicorn = processes.start(
                "gunicorn",
                [str(GUNICORN), "--config", "deploy/gunicorn.conf.py", "wsgi:app"],
                env,
            )
            processes.start("worker", [str(PORTAL), "worker", "--interval", "2"], env)
            wait_healthy(base, gunicorn)
            rebuilds = RebuildLoop(processes, env)
            rebuilds.start()

            stats = Stats()
            records = Records()
            rng = random.Random(args.seed)
            users: list[User] = []
            for email, kind, ref in world.members:
                client = Client(base, stats)
                client.login(email)
                users.append(
                    User(
                        client,
                        world,
                        records,
                        random.Random(rng.random()),
                        kind=kind,
                        email=email,
                        ref=ref,
                    )
                )
            member_clients = [u.c for u in users]
            while len(users) < args.users:
                i = len(users)
                client = Client(base, stats)
                if len(users) - len(world.members) < len(world.staff):
                    email = world.staff[len(users) - len(world.members)]
                    client.login(email)
                    users.append(
                        User(client, world, records, random.Random(i), kind="staff", email=email)
                    )
                else:
                    users.append(User(client, world, records, random.Random(i), kind="anonymous"))
            kinds = collections.Counter(u.kind for u in users)
            print(f"mixed run: {len(users)} users ({dict(kinds)}) for {args.seconds:.0f} s")
            started = time.perf_counter()
            run_users(users, args.seconds, stop)
            mixed_elapsed = time.perf_counter() - started
            mixed_requests = sum(stats.requests.values())

            print(f"rps phases: {args.rounds} x ({args.phase_seconds:.0f} s each page kind)")
            phase_clients = [member_clients[i % len(member_clients)] for i in range(args.users)]
            leads_paths = [
                "/leads" if u.kind == "vendor" else f"/needs/{world.own_needs[u.ref][0]}"
                for u in (users[i % len(member_clients)] for i in range(args.users))
            ]
            totals = collections.Counter()
            for _ in range(args.rounds):
                for name, paths in (
                    ("healthz", ["/healthz"] * args.users),
                    ("home", ["/"] * args.users),
                    ("leads", leads_paths),
                ):
                    totals[name] += phase(name, phase_clients, paths, args.phase_seconds, stop)
            rps = {
                name: count / (args.rounds * args.phase_seconds) for name, count in totals.items()
            }

            rebuilds.halt()
            markers, steps, lost, written_anyway = check_writes(database_url, records)
            processes.stop_all()
            mail_count = mail.count

        server_tracebacks = sum(scan_log(workdir / f"{n}.log") for n in ("gunicorn", "worker"))
        errors = sum(stats.errors.values()) + server_tracebacks + rebuilds.failures
        trivial = max(rps["healthz"], rps["home"])
        ratio = rps["leads"] / trivial if trivial else 0.0

        print()
        print(
            f"mixed run: {mixed_requests} requests in {mixed_elapsed:.1f} s "
            f"= {mixed_requests / mixed_elapsed:.1f} req/s"
        )
        print("  requests by kind (count, p50, p95 ms):")
        for kind, count in sorted(stats.requests.items()):
            if kind.startswith("phase"):
                continue
            lat = stats.latency[kind]
            print(
                f"    {kind:28} {count:6}  {statistics.median(lat) * 1000:7.0f} "
                f"{percentile(lat, 0.95) * 1000:7.0f}"
            )
        print("  outcomes:")
        for name, count in sorted(stats.outcomes.items()):
            print(f"    {name:60} {count:5}")
        print(
            f"  index rebuilds underneath: {rebuilds.runs} "
            f"(median {statistics.median(rebuilds.durations or [0]):.1f} s, "
            f"{rebuilds.failures} failed)"
        )
        print(f"  mail delivered by the worker to the sink: {mail_count}")
        print("rps phases (same concurrency, requests per second answered 200):")
        for name in ("healthz", "home", "leads"):
            lat = stats.latency.get(f"phase {name}") or [0.0]
            print(
                f"    {name:8} {rps[name]:7.1f} req/s  p50 {statistics.median(lat) * 1000:6.0f} ms"
                f"  p95 {percentile(lat, 0.95) * 1000:6.0f} ms"
            )
        print(f"  leads / fastest trivial page: {ratio:.2f} (bar 0.25)")
        print("errors:")
        for kind, count in sorted(stats.errors.items()):
            print(f"    {kind:18} {count}")
        print(f"    server tracebacks   {server_tracebacks}")
        print(f"    failed rebuilds     {rebuilds.failures}")
        for sample in stats.samples[:10]:
            print(f"      e.g. {sample}")
        print(
            f"writes: {markers} profile edits saved, {steps} introduction steps recorded; "
            f"{len(lost)} lost"
        )
        print(
            f"stale edits: {len(records.refused)} refused with 409 (saved by someone else "
            f"since the form was opened); {len(written_anyway)} of them written anyway"
        )
        for item in lost[:10]:
            print(f"      lost: {item}")
        for item in written_anyway[:10]:
            print(f"      written anyway: {item}")
        ok = errors == 0 and not lost and not written_anyway and ratio >= 0.25
        print("PASS" if ok else "FAIL")
        if args.keep_logs or not ok:
            kept = Path(tempfile.mkdtemp(prefix="portal-load-logs-"))
            for log in workdir.glob("*.log"):
                shutil.copy2(log, kept / log.name)
            print(f"logs: {kept}")
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        stop.set()
        if rebuilds is not None:
            rebuilds.stopping.set()
        processes.stop_all()
        if rebuilds is not None:
            rebuilds.join(timeout=30)
        if created_db:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
