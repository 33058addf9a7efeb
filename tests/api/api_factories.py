"""The API tests' client, which checks every answer against the OpenAPI document, and
their factories (tokens, notices, an event with an agenda).

Imported as ``api.api_factories`` (``tests/`` is on ``sys.path`` through the root
conftest).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from flask import json
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from organizations.directory_factories import make_org

from portal.accounts.models import User
from portal.api import tokens
from portal.extensions import db
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant
from portal.organizations.models import Organization, OrganizationKind

API = "/api/v1"


@dataclass
class ApiClient:
    """GETs on the API through the test client; each answer is checked against the
    document: a documented status for that operation, its media type, and its body
    against the schema. ``answers`` keeps every body seen (the privacy checks read it)."""

    client: FlaskClient
    document: dict[str, Any] = field(default_factory=dict)
    answers: list[tuple[str, int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        response = self.client.get(f"{API}/openapi.json")
        assert response.status_code == 200, response.text
        self.document = response.get_json()
        self._check(f"{API}/openapi.json", response)

    def get(
        self, path: str, token: str | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if path.startswith("http://localhost"):
            path = path[len("http://localhost") :]
        response = self.client.get(path, headers=sent)
        self._check(path, response)
        return response

    def operation(self, path: str) -> dict[str, Any]:
        bare = path.split("?", 1)[0]
        assert bare.startswith(API), path
        bare = bare[len(API) :] or "/"
        for template, item in self.document["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, bare):
                return item["get"]  # type: ignore[no-any-return]
        raise AssertionError(f"{path} is in no path of the document")

    def _resolve(self, item: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in item:
            node: Any = self.document
            for part in item["$ref"].lstrip("#/").split("/"):
                node = node[part]
            item = node
        return item

    def _check(self, path: str, response: Any) -> None:
        status = str(response.status_code)
        self.answers.append((path, response.status_code, response.get_data(as_text=True)))
        documented = self.operation(path)["responses"]
        assert status in documented, f"{path}: {status} is not documented: {response.text}"
        answer = self._resolve(documented[status])
        if status == "304":
            assert response.get_data() == b""
            return
        content = answer["content"]
        assert response.mimetype in content, f"{path}: {response.mimetype} not documented"
        schema = {**content[response.mimetype]["schema"], "components": self.document["components"]}
        body = json.loads(response.get_data(as_text=True))
        errors = sorted(
            Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(body),
            key=str,
        )
        assert not errors, f"{path}: the answer does not match the document: {errors[0]}"
        if status == "200":
            assert response.headers.get("ETag"), f"{path}: no ETag"

    def pages(self, path: str, token: str | None = None) -> list[dict[str, Any]]:
        """Every item of a list, following ``next`` to the end."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        seen: set[str] = set()
        while url:
            assert url not in seen, f"{url} twice: the pages loop"
            seen.add(url)
            response = self.get(url, token)
            assert response.status_code == 200, response.text
            body = response.get_json()
            items += body["items"]
            url = body["next"]
        return items


def make_token(user: User, name: str = "test client") -> str:
    """A personal token of ``user``, committed; returns its secret."""
    new = tokens.create_token(user, name)
    db.session.commit()
    return new.secret


@dataclass
class Agenda:
    event: MissionEvent
    published: Meeting
    draft: Meeting
    partner: Organization


def make_agenda(vendor: Organization, buyer: Organization) -> Agenda:
    """An event where ``vendor`` meets ``buyer`` (published) and a third (not published)."""
    event = MissionEvent(
        ref="api-event",
        name="API Mission",
        city="Bangkok",
        country="TH",
        time_zone="Asia/Bangkok",
        sessions=[{"start": "2099-03-09T09:00", "end": "2099-03-09T11:00"}],
        tables=2,
        join_link_pattern="https://meet.example.org/{event}-{meeting}",
    )
    db.session.add(event)
    db.session.flush()
    other = make_org(OrganizationKind.BUYER, "Agenda Port Authority")
    mine, theirs, third = (
        Participant(event_id=event.id, organization_id=org.id) for org in (vendor, buyer, other)
    )
    db.session.add_all([mine, theirs, third])
    db.session.flush()
    requests = [
        MeetingRequest(
            event_id=event.id,
            from_id=mine.id,
            to_id=to.id,
            pair=MeetingRequest.pair_of(mine.id, to.id),
            status="accepted",
        )
        for to in (theirs, third)
    ]
    db.session.add_all(requests)
    db.session.flush()
    start = dt.datetime(2099, 3, 9, 2, 0, tzinfo=dt.UTC)  # 09:00 in Bangkok
    meetings = [
        Meeting(
            event_id=event.id,
            request_id=request.id,
            starts_at=start + dt.timedelta(minutes=30 * index),
            ends_at=start + dt.timedelta(minutes=30 * index + 20),
            table_number=1,
            published=index == 0,
        )
        for index, request in enumerate(requests)
    ]
    db.session.add_all(meetings)
    db.session.commit()
    return Agenda(event, meetings[0], meetings[1], other)
