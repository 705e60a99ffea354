"""``haechi victim``: hash a folder locally, open and follow cases, advocates' takedown
requests, and the hash exchange with other organisations."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, ValidationError
from rich.markup import escape

from haechi.cli import output
from haechi.cli.context import engine, fail, write
from haechi.errors import InvalidRequestError
from haechi.victims.interop import request_from_threatexchange
from haechi.victims.localhash import case_request, hash_folder
from haechi.victims.schemas import CaseRequest, TakedownRequest
from haechi.victims.service import VictimsService

app = typer.Typer(help="Victims: block images by their hashes alone, follow cases, file "
                  "takedown requests, exchange hashes with other organisations.",
                  no_args_is_help=True)
takedown_app = typer.Typer(help="Takedown requests sent to services.", no_args_is_help=True)
app.add_typer(takedown_app, name="takedown")

_JSON = typer.Option(False, "--json", help="JSON instead of text.")
_ACTOR = typer.Option("cli", "--as", help="Who acts (recorded in the audit log).")


def _emit(model: BaseModel | list[Any], as_json: bool, text: str) -> None:
    if as_json:
        items = model if isinstance(model, list) else [model]
        for m in items:
            write(m.model_dump_json() + "\n")
    else:
        output.console.print(text, highlight=False)


@app.command("hash")
def hash_command(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="A folder (or one file) of your own pictures "
                                  "and videos."),
    out: Path | None = typer.Option(None, "--out", help="Write the case request (hashes "
                                    "only) to this JSON file, for 'victim open'."),
    as_json: bool = _JSON,
) -> None:
    """Hash files on this machine: PDQ and MD5 for pictures, MD5 and vPDQ for videos.
    Nothing is sent anywhere."""
    with engine(ctx, load_index=False) as eng:
        files = hash_folder(eng, folder)
    if out is not None:
        out.write_text(case_request(files).model_dump_json(indent=1) + "\n")
    if as_json:
        for f in files:
            write(f.model_dump_json() + "\n")
        return
    for f in files:
        if f.error:
            output.console.print(f"[yellow]{escape(f.path)}[/] {escape(f.error)}")
        else:
            kinds = ", ".join(h.signal for h in f.hashes)
            output.console.print(f"{escape(f.path)}: {f.kind}, {kinds}", highlight=False)
    if out is not None:
        output.console.print(f"case request written to {escape(str(out))}")


@app.command("open")
def open_command(
    ctx: typer.Context,
    request_file: Path = typer.Argument(..., help="A case request from 'victim hash --out', "
                                        "or python-threatexchange lines with --threatexchange."),
    threatexchange: bool = typer.Option(False, "--threatexchange", help="The file holds "
                                        "'<signal type> <value>' lines, one file each."),
    minor: bool = typer.Option(False, "--minor", help="The person shown was under 18."),
    contact: str = typer.Option("", "--contact", help="E-mail or phone for updates."),
    organisation: str | None = typer.Option(None, "--organisation"),
    as_json: bool = _JSON,
) -> None:
    """Open a case from a file of hashes; prints the case number and the PIN, once."""
    try:
        text = request_file.read_text()
        request = (request_from_threatexchange(text) if threatexchange
                   else CaseRequest.model_validate_json(text))
    except (OSError, ValidationError) as exc:
        fail(InvalidRequestError(f"{request_file}: not a case request ({exc})"))
    except InvalidRequestError as exc:
        fail(exc)
    request = request.model_copy(update={"minor": minor or request.minor,
                                         "contact": contact or request.contact})
    with engine(ctx) as eng:
        receipt = VictimsService(eng).submit(request=request, organisation=organisation,
                                             actor="cli")
    _emit(receipt, as_json, f"case number [bold]{receipt.case_number}[/]  PIN [bold]"
          f"{receipt.pin}[/]\nWrite both down: the PIN is not shown again. Status: "
          f"{receipt.case.status}" + "".join(f"\n  skipped {escape(s)}" for s in receipt.skipped))


def _pin(pin: str | None) -> str:
    return pin if pin is not None else str(typer.prompt("PIN", hide_input=True))


@app.command("status")
def status_command(ctx: typer.Context, number: str = typer.Argument(...),
                   pin: str | None = typer.Option(None, "--pin", help="Asked for when "
                                                  "not given."),
                   as_json: bool = _JSON) -> None:
    """A case's status and how many uploads were blocked, where and when."""
    with engine(ctx) as eng:
        view = VictimsService(eng).view(number=number, pin=_pin(pin))
    lines = [f"case {view.case_number}: {view.status}, {view.blocked} upload(s) blocked"]
    lines += [f"  {escape(b.service)}: {b.blocked}, last {b.last_at:%Y-%m-%d %H:%M} UTC"
              for b in view.blocked_by_service]
    _emit(view, as_json, "\n".join(lines))


@app.command("withdraw")
def withdraw_command(ctx: typer.Context, number: str = typer.Argument(...),
                     pin: str | None = typer.Option(None, "--pin"),
                     as_json: bool = _JSON) -> None:
    """Withdraw a case: its hashes stop blocking, here and downstream."""
    with engine(ctx) as eng:
        view = VictimsService(eng).withdraw(number=number, pin=_pin(pin))
    _emit(view, as_json, f"case {view.case_number}: {view.status}")


@app.command("report")
def report_command(ctx: typer.Context, number: str = typer.Argument(...),
                   month: str = typer.Option(..., "--month", help="YYYY-MM"),
                   out: Path = typer.Option(..., "--out", help="Where to write the PDF."),
                   actor: str = _ACTOR) -> None:
    """Write a case's monthly status report (PDF): blocks, feedback, takedowns."""
    with engine(ctx) as eng:
        pdf = VictimsService(eng).monthly_report(month=month, number=number, actor=actor)
    out.write_bytes(pdf)
    output.console.print(f"report written to {escape(str(out))}")


@app.command("face")
def face_command(ctx: typer.Context, number: str = typer.Argument(...),
                 selfie: Path = typer.Argument(..., help="A photo of your face; it is "
                                               "read here and not kept."),
                 pin: str | None = typer.Option(None, "--pin")) -> None:
    """Opt in to the face alert: keep your face's embedding (not the photo) so sexual
    content showing you is held even when no hash matches."""
    from haechi.victims.faces import embed_selfie

    with engine(ctx) as eng:
        embedding = embed_selfie(eng.read_file(selfie))
        face_id = VictimsService(eng).register_face(number=number, pin=_pin(pin),
                                                    embedding=embedding)
    output.console.print(f"face reference {face_id} registered; the photo was not stored")


@app.command("cases")
def cases_command(ctx: typer.Context,
                  organisation: str | None = typer.Option(None, "--organisation"),
                  status: str | None = typer.Option(None, "--status"),
                  as_json: bool = _JSON) -> None:
    """Cases, minors' first, then oldest (an operator's view: every organisation)."""
    with engine(ctx) as eng:
        cases = VictimsService(eng).list_cases(organisation=organisation, status=status)
    _emit(cases, as_json, "\n".join(
        f"{c.case_number} {c.status:9} {'MINOR ' if c.minor else ''}{c.blocked} blocked, "
        f"{c.overdue_takedowns} overdue takedown(s) [{escape(c.organisation)}]"
        for c in cases) or "no cases")


@app.command("export")
def export_command(ctx: typer.Context,
                   fmt: str = typer.Option("stopncii", "--format", help="stopncii (cases "
                                           "with their states, JSON Lines) or threatexchange "
                                           "(hashes blocking now)."),
                   organisation: str | None = typer.Option(None, "--organisation")) -> None:
    """Export cases or hashes for other tools."""
    with engine(ctx, load_index=False) as eng:
        for line in VictimsService(eng).export(fmt=fmt, organisation=organisation):
            write(line)


@app.command("advocate")
def advocate_command(ctx: typer.Context, key_id: int = typer.Argument(...),
                     organisation: str = typer.Argument(...), actor: str = _ACTOR) -> None:
    """Assign an advocate's API key to an organisation (she sees only its cases)."""
    with engine(ctx) as eng:
        VictimsService(eng).assign_advocate(api_key_id=key_id, organisation=organisation,
                                            actor=actor)
    output.console.print(f"key {key_id} works for {escape(organisation)}")


@takedown_app.command("add")
def takedown_add(ctx: typer.Context, number: str = typer.Argument(...),
                 locator: str = typer.Option(..., "--locator", help="URL or other locator."),
                 service: str = typer.Option(..., "--service"),
                 ground: str = typer.Option(..., "--ground", help="Legal ground cited."),
                 sent_at: datetime | None = typer.Option(None, "--sent-at"),
                 hours: float = typer.Option(48.0, "--hours", help="Deadline in hours."),
                 actor: str = _ACTOR, as_json: bool = _JSON) -> None:
    """Record a takedown request sent for a case."""
    try:
        request = TakedownRequest(locator=locator, service=service, legal_ground=ground,
                                  sent_at=sent_at, deadline_hours=hours)
    except ValidationError as exc:
        fail(InvalidRequestError(str(exc)))
    with engine(ctx) as eng:
        info = VictimsService(eng).takedowns.record(number=number, organisation=None,
                                                    request=request, actor=actor)
    _emit(info, as_json, f"takedown {info.id} due {info.due_at:%Y-%m-%d %H:%M} UTC")


@takedown_app.command("list")
def takedown_list(ctx: typer.Context, state: str = typer.Option("open", "--state"),
                  as_json: bool = _JSON) -> None:
    """Takedown requests, overdue first."""
    with engine(ctx) as eng:
        items = VictimsService(eng).takedowns.listing(organisation=None, state=state)
    _emit(items, as_json, "\n".join(
        f"{t.id:5} {'OVERDUE ' if t.overdue else ''}due {t.due_at:%Y-%m-%d %H:%M} "
        f"{escape(t.service)} {escape(t.locator)} (case {t.case_number})" for t in items)
        or "no takedown requests")


@takedown_app.command("reply")
def takedown_reply(ctx: typer.Context, takedown_id: int = typer.Argument(...),
                   state: str = typer.Option(..., "--state", help="removed, refused or "
                                             "no_reply"),
                   text: str = typer.Option("", "--text"), actor: str = _ACTOR,
                   as_json: bool = _JSON) -> None:
    with engine(ctx) as eng:
        info = VictimsService(eng).takedowns.reply(takedown_id=takedown_id, organisation=None,
                                                   state=state, reply=text, actor=actor)
    _emit(info, as_json, f"takedown {info.id}: {info.state}")


@takedown_app.command("follow-up")
def takedown_follow_up(ctx: typer.Context, takedown_id: int = typer.Argument(...),
                       hours: float = typer.Option(48.0, "--hours"), actor: str = _ACTOR,
                       as_json: bool = _JSON) -> None:
    with engine(ctx) as eng:
        info = VictimsService(eng).takedowns.follow_up(
            takedown_id=takedown_id, organisation=None, deadline_hours=hours, actor=actor)
    _emit(info, as_json, f"takedown {info.id}: follow-up {info.follow_ups}, due "
          f"{info.due_at:%Y-%m-%d %H:%M} UTC")


@app.command("feed-key")
def feed_key(ctx: typer.Context) -> None:
    """This instance's feed verifier key, to give to organisations that pull it."""
    with engine(ctx, load_index=False) as eng:
        write(VictimsService(eng).exchange.vkey() + "\n")


@app.command("peer-add")
def peer_add(ctx: typer.Context, name: str = typer.Argument(...),
             vkey: str = typer.Argument(..., help="The peer's 'victim feed-key'."),
             actor: str = _ACTOR) -> None:
    """Trust another organisation's feed."""
    with engine(ctx, load_index=False) as eng:
        VictimsService(eng).exchange.add_peer(name=name, vkey=vkey, actor=actor)
    output.console.print(f"peer {escape(name)} added")


@app.command("pull")
def pull(ctx: typer.Context, name: str = typer.Argument(...),
         url: str = typer.Argument(..., help="The peer's Haechi base URL."),
         api_key: str = typer.Option(..., "--api-key", envvar="HAECHI_PEER_API_KEY"),
         every: float = typer.Option(0.0, "--every", help="Keep pulling, every this many "
                                     "seconds (e.g. 30, so withdrawals arrive within a "
                                     "minute); 0 pulls once."),
         as_json: bool = _JSON) -> None:
    """Apply a peer's additions, withdrawals and deletions since the last pull."""
    with engine(ctx) as eng:
        svc = VictimsService(eng)
        while True:
            report = svc.exchange.pull_url(peer=name, url=url, api_key=api_key)
            _emit(report, as_json, f"{report.applied} change(s) applied; checkpoint "
                  f"{report.checkpoint}")
            if every <= 0:
                return
            time.sleep(every)
