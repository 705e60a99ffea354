"""``haechi mod``: moderate uploads, work the review queue, appeals, notices, webhooks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from haechi.cli import output
from haechi.cli.context import engine, fail, write
from haechi.errors import InvalidRequestError
from haechi.moderation import load_policy
from haechi.moderation.policy import PolicyError
from haechi.moderation.service import ModerationService

app = typer.Typer(help="Moderation: policy, enforcement, review queue, appeals, notices, "
                  "statements of reasons and webhooks.", no_args_is_help=True)

_REVIEWER = typer.Option(..., "--reviewer", help="Who decides (recorded on the decision).")
_JSON = typer.Option(False, "--json", help="JSON instead of a table.")


def _emit(model: BaseModel | list[Any], as_json: bool, text: str) -> None:
    if as_json:
        if isinstance(model, list):
            for m in model:
                write((m.model_dump_json() if isinstance(m, BaseModel) else json.dumps(m))
                      + "\n")
        else:
            write(model.model_dump_json() + "\n")
    else:
        output.console.print(text, highlight=False)


def _scores(pairs: list[str]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            scores[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(f"expected NAME=SCORE, got {pair!r}", param_hint="--score")
    return scores


def _service(eng: Any, policy: Path | None = None) -> ModerationService:
    return ModerationService(eng, policy=policy)


@app.command("policy")
def policy_check(file: Path | None = typer.Argument(
        None, help="A policy YAML file [default: the packaged policy].")) -> None:
    """Validate a policy and list its rules in the order they take precedence."""
    try:
        compiled = load_policy(file)
    except PolicyError as exc:
        fail(exc)
    table = Table(title=compiled.source)
    for column in ("priority", "rule", "action", "review priority", "category"):
        table.add_column(column)
    for rule in sorted(compiled.policy.rules, key=lambda r: -r.priority):
        table.add_row(str(rule.priority), rule.name, rule.action, str(rule.review_priority),
                      rule.category)
    output.console.print(table)


@app.command("upload")
def upload(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The uploaded file."),
    user: str = typer.Option(..., "--user", help="The platform's id of the uploader."),
    room: str = typer.Option(..., "--room", help="The room or channel."),
    score: list[str] = typer.Option([], "--score", help="A detector score NAME=0..1, e.g. "
                                    "sexual=0.9; repeatable."),
    policy: Path | None = typer.Option(None, "--policy", help="A policy YAML file."),
    as_json: bool = _JSON,
) -> None:
    """Scan an upload, decide by the policy and enforce (remove, hold, warn, ban)."""
    scores = _scores(score)
    with engine(ctx) as eng:
        out = _service(eng, policy).moderate_upload(eng.read_file(file), user_id=user,
                                                    room_id=room, name=str(file),
                                                    detections=scores)
    d = out.decision
    events = ", ".join(e.type for e in out.events) or "none"
    _emit(out, as_json, f"{escape(str(file))}: [bold]{d.action}[/] (item {out.item.id}, "
          f"{out.item.status}) by {escape(d.rule or 'default')}: {escape(d.reason)}\n"
          f"events: {events}; user {escape(user)}: strikes {out.user.active_strike_weight:g}"
          + (", BANNED" if out.user.banned else ""))


@app.command("queue")
def queue(ctx: typer.Context,
          view: str = typer.Option("pending", help="pending, escalated, decided, appealed."),
          limit: int = typer.Option(20), as_json: bool = _JSON) -> None:
    """List the review queue: highest priority first, then oldest."""
    with engine(ctx, load_index=False) as eng:
        page = _service(eng).list_reviews(view=view, limit=limit)
    if as_json:
        _emit(page.data, True, "")
        return
    table = Table(title=f"{view}: {page.count}")
    for column in ("review", "item", "priority", "rule", "user", "claimed by", "decision"):
        table.add_column(column)
    for r in page.data:
        table.add_row(str(r.id), str(r.item.id), str(r.priority), r.item.decision.rule,
                      escape(r.item.user_id), escape(r.claimed_by or ""), r.decision or "")
    output.console.print(table)


@app.command("claim")
def claim(ctx: typer.Context, reviewer: str = _REVIEWER,
          lease: float = typer.Option(900, help="Seconds the claim lasts."),
          as_json: bool = _JSON) -> None:
    """Claim the next item to review."""
    with engine(ctx, load_index=False) as eng:
        review = _service(eng).claim_next(reviewer=reviewer, lease_seconds=lease)
    if review is None:
        output.console.print("nothing is waiting")
        return
    _emit(review, as_json, f"review {review.id}: item {review.item.id} by "
          f"{escape(review.item.user_id)}: {escape(review.item.decision.reason)}")


@app.command("decide")
def decide(ctx: typer.Context, review_id: int = typer.Argument(...),
           decision: str = typer.Argument(..., help="confirm, decline or escalate."),
           reason: str = typer.Option(..., "--reason"), reviewer: str = _REVIEWER,
           as_json: bool = _JSON) -> None:
    """Decide a claimed item."""
    if decision not in ("confirm", "decline", "escalate"):
        fail(InvalidRequestError("decision must be confirm, decline or escalate"))
    with engine(ctx) as eng:
        result = _service(eng).decide(review_id=review_id, reviewer=reviewer,
                                      decision=decision,  # type: ignore[arg-type]
                                      reason=reason)
    _emit(result, as_json, f"review {review_id}: {decision}; item {result.item.status}; "
          f"{result.bank_entries_added} bank entries added; events: "
          f"{', '.join(e.type for e in result.events) or 'none'}")


@app.command("user")
def user(ctx: typer.Context, user_id: str = typer.Argument(...), as_json: bool = _JSON) -> None:
    """A user's standing, strikes and notices."""
    with engine(ctx, load_index=False) as eng:
        svc = _service(eng)
        info = svc.get_user(user_id=user_id)
        strikes = svc.strikes(user_id=user_id)
        notices = svc.user_notices(user_id=user_id)
    if as_json:
        _emit([info, *strikes, *notices], True, "")
        return
    lines = [f"{escape(user_id)}: " + ("BANNED: " + escape(info.ban_reason) if info.banned
                                       else "in good standing")
             + f"; active strikes {info.active_strike_weight:g}; rooms "
             + escape(", ".join(info.rooms))]
    lines += [f"  strike {s.id}: {s.weight:g} {escape(s.category)}"
              f"{'' if s.active else ' (inactive)'}" for s in strikes]
    lines += [f"  told ({n.kind}): {escape(n.message)}" for n in notices]
    output.console.print("\n".join(lines), highlight=False)


@app.command("appeal")
def appeal(ctx: typer.Context, item_id: int = typer.Argument(...),
           user_id: str = typer.Option(..., "--user"),
           statement: str = typer.Option(..., "--statement")) -> None:
    """Record a user's appeal against a removal."""
    with engine(ctx, load_index=False) as eng:
        a = _service(eng).appeal(item_id=item_id, user_id=user_id, statement=statement)
    output.console.print(f"appeal {a.id} opened for item {item_id}", highlight=False)


@app.command("resolve-appeal")
def resolve_appeal(ctx: typer.Context, appeal_id: int = typer.Argument(...),
                   outcome: str = typer.Argument(..., help="uphold or overturn."),
                   reason: str = typer.Option(..., "--reason"),
                   reviewer: str = _REVIEWER) -> None:
    """Uphold or overturn an appeal (overturn lifts the strike and the ban)."""
    if outcome not in ("uphold", "overturn"):
        fail(InvalidRequestError("outcome must be uphold or overturn"))
    with engine(ctx) as eng:
        result = _service(eng).resolve_appeal(appeal_id=appeal_id, reviewer=reviewer,
                                              outcome=outcome,  # type: ignore[arg-type]
                                              reason=reason)
    output.console.print(f"appeal {appeal_id}: {outcome}; item {result.item.status}; user "
                         + ("banned" if result.user.banned else "not banned"), highlight=False)


@app.command("notices")
def notices(ctx: typer.Context, state: str = typer.Option("open", help="open or closed."),
            as_json: bool = _JSON) -> None:
    """Public notices: overdue first."""
    with engine(ctx, load_index=False) as eng:
        svc = _service(eng)
        cases, metrics = svc.notices.cases(state=state), svc.notices.metrics()
    if as_json:
        _emit(cases, True, "")
        return
    table = Table(title=f"{metrics.open} open, {metrics.overdue} overdue")
    for column in ("notice", "due", "where", "overdue"):
        table.add_column(column)
    for c in cases:
        table.add_row(str(c.id), c.due_at.isoformat(timespec="minutes"), escape(c.location),
                      "[bold red]OVERDUE[/]" if c.overdue else "")
    output.console.print(table)


@app.command("statements")
def statements(ctx: typer.Context,
               out: Path | None = typer.Option(None, "--output", "-o",
                                               help="JSON file to write [stdout].")) -> None:
    """Export statements of reasons (EU Transparency Database fields) as JSON."""
    with engine(ctx, load_index=False) as eng:
        rows = _service(eng).statements()
    text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        write(text)
        return
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)


@app.command("webhook-add")
def webhook_add(ctx: typer.Context, url: str = typer.Argument(...),
                event: list[str] = typer.Option([], "--event", help="Only these event "
                                                "types; repeatable [default: all].")) -> None:
    """Register a webhook endpoint; prints its signing secret once."""
    with engine(ctx, load_index=False) as eng:
        hook, secret = _service(eng).webhooks.register(url=url, events=event)
    output.console.print(f"webhook {hook.id}: {escape(hook.url)}\nsecret: {secret}\n"
                         "(store it now: it is not shown again)", highlight=False)


@app.command("deliver")
def deliver(ctx: typer.Context,
            loop: bool = typer.Option(False, "--loop", help="Keep delivering until stopped."),
            interval: float = typer.Option(1.0, help="Seconds between rounds with --loop.")
            ) -> None:
    """Send due webhook deliveries (retries included)."""
    with engine(ctx, load_index=False) as eng:
        dispatcher = _service(eng).webhooks
        while True:
            r = dispatcher.deliver_due()
            if r.attempted or not loop:
                output.console.print(f"attempted {r.attempted}, delivered {r.delivered}, "
                                     f"retrying {r.retrying}, failed {r.failed}")
            if not loop:
                return
            time.sleep(interval)


@app.command("account-add")
def account_add(
    ctx: typer.Context, username: str = typer.Argument(...),
    role: str = typer.Option(..., help="admin, reviewer, investigator, victim_advocate or "
                             "service."),
    can_reveal: bool = typer.Option(False, "--can-reveal",
                                    help="May reveal sensitive media (always for admins)."),
    password: str = typer.Option(..., prompt=True, hide_input=True,
                                 confirmation_prompt=True, envvar="HAECHI_ACCOUNT_PASSWORD",
                                 help="At least 12 characters [prompted]."),
) -> None:
    """Create an account for the reviewer pages (/review)."""
    with engine(ctx, load_index=False) as eng:
        info = _service(eng).accounts.create(username=username, password=password, role=role,
                                             can_reveal=can_reveal)
    output.console.print(f"account {escape(info.username)} ({info.role})"
                         + (", may reveal media" if info.can_reveal else ""), highlight=False)


@app.command("audit")
def audit_log(ctx: typer.Context, limit: int = typer.Option(50),
              as_json: bool = _JSON) -> None:
    """The audit log: decisions and reveals of sensitive media, newest first."""
    with engine(ctx, load_index=False) as eng:
        entries = _service(eng).audit_log(limit=limit)
    _emit(entries, as_json, "\n".join(
        f"{e.at.isoformat(timespec='seconds')} {escape(e.actor)} {e.action} "
        f"{escape(e.target)}" for e in entries) or "no entries")
