"""``portal events``: list and show trade-mission events, schedule their meetings."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.extensions import db
from portal.i18n.locales import DEFAULT_LOCALE, LOCALES
from portal.missions import agenda, services
from portal.missions.models import MissionEvent, RequestStatus
from portal.missions.scheduler import DEFAULT_TIME_LIMIT


@click.group(cls=AppGroup)
def events() -> None:
    """Trade-mission events: list, show, schedule meetings, publish agendas."""


def _event(ref: str) -> MissionEvent:
    event = services.find_event(ref)
    if event is None:
        raise click.ClickException(f'no event "{ref}" (see `portal events list`)')
    return event


@events.command("list")
def list_command() -> None:
    """Every event: first day, participants, accepted requests, meetings placed."""
    rows = services.summaries()
    if not rows:
        click.echo("no events; `portal import` reads them from an exchange file")
        return
    for row in rows:
        first = row.event.sessions[0]["start"][:10] if row.event.sessions else "-"
        click.echo(
            f"{row.event.ref}  {first}  {row.event.name} ({row.event.city or '-'}): "
            f"{row.participants} participants, "
            f"{row.requests.get(RequestStatus.ACCEPTED, 0)} accepted requests, "
            f"{row.meetings} meetings ({row.published} published)"
        )


@events.command("show")
@click.argument("ref")
def show_command(ref: str) -> None:
    """The event's sessions, slots, requests by status, meetings, and broken rules."""
    event = _event(ref)
    summary = next(s for s in services.summaries() if s.event.id == event.id)
    loaded = services.event_problem(event)
    click.echo(f"{event.ref}: {event.name}")
    place = ", ".join(part for part in (event.venue, event.city, event.country) if part)
    click.echo(f"  where: {place or '-'} ({event.time_zone})")
    click.echo(
        f"  meetings of {event.meeting_minutes} min, {event.tables} tables, "
        f"online {'allowed' if event.online else 'not allowed'}; "
        f"{len(loaded.problem.slots)} slots in {len(event.sessions)} sessions:"
    )
    for index, session in enumerate(event.sessions):
        click.echo(f"    {index}: {session['start']} - {session['end'][11:]}")
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(summary.requests.items()))
    click.echo(f"  {summary.participants} participants; requests: {statuses or 'none'}")
    click.echo(f"  {summary.meetings} meetings, {summary.published} published")
    broken = services.stored_violations(event)
    for violation in broken[:20]:
        click.echo(f"  breaks a rule: {violation}")
    if len(broken) > 20:
        click.echo(f"  ... and {len(broken) - 20} more")


@events.command("schedule")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON.")
@click.option("--replan", is_flag=True, help="Plan every meeting again, published ones included.")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_TIME_LIMIT,
    show_default=True,
    help="Seconds the solver may take.",
)
def schedule_command(ref: str, as_json: bool, replan: bool, time_limit: float) -> None:
    """Place the event's accepted requests in slots and tables, and save the meetings.

    Published meetings stay where they are unless --replan; the others are planned
    again and free slots are filled. Every accepted request not placed is listed with
    the reason.
    """
    event = _event(ref)
    result = services.schedule_event(event, replan=replan, time_limit=time_limit)
    db.session.commit()
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    stats = result.schedule.stats
    placed = len(result.schedule.placements)
    must = result.schedule.must_placed(result.problem)
    click.echo(
        f"{event.ref}: {placed} meetings placed ({must} must-meets, {result.kept} published "
        f"kept), {len(result.schedule.unplaced)} accepted requests not placed"
    )
    click.echo(
        f"  solver {stats.solver}: {stats.solver_status or '-'} in {stats.solver_seconds:.1f} s "
        f"(first-fit greedy: {stats.greedy})"
    )
    for item in result.schedule.unplaced:
        click.echo(f"  not placed: {item.a} - {item.b}: {item.reason}")


@events.command("publish")
@click.argument("ref")
def publish_command(ref: str) -> None:
    """Publish the event's meetings: later runs keep them where they are."""
    event = _event(ref)
    count = services.publish(event)
    db.session.commit()
    click.echo(f"{event.ref}: published {count} meeting(s)")


@events.command("agenda")
@click.argument("ref")
@click.argument("org")
@click.option("--ics", is_flag=True, help="Print the iCalendar text instead.")
@click.option("--drafts", is_flag=True, help="Include meetings not published yet.")
@click.option(
    "--lang",
    type=click.Choice(sorted(LOCALES)),
    default=DEFAULT_LOCALE,
    show_default=True,
    help="The language of the meetings' lines or the .ics (the participant's, to send it on).",
)
def agenda_command(ref: str, org: str, ics: bool, drafts: bool, lang: str) -> None:
    """ORG's meetings at event REF, in ORG's own time zone (or as .ics, times in UTC).
    What a participant reads (each meeting's line, the .ics) is worded in ``--lang``;
    the command's own words stay English, as the rest of the CLI's."""
    event = _event(ref)
    participant = agenda.participant_by_ref(event, org)
    if participant is None:
        raise click.ClickException(f'"{org}" is not a participant of {event.ref}')
    their = agenda.agenda_of(participant, drafts=drafts)
    with force_locale(lang):
        text = agenda.agenda_ics(their) if ics else None
        lines = [agenda.agenda_line(item) for item in their.items]
    if text is not None:
        click.echo(text, nl=False)
        return
    click.echo(
        f"{event.ref}: agenda of {participant.organization.name} "
        f"({participant.mode}), times in {their.zone_name}"
    )
    for line in lines:
        click.echo(f"  {line}")
    if not lines:
        click.echo("  no meetings" + ("" if drafts else " published (try --drafts)"))
