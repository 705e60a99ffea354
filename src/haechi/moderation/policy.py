"""Declarative moderation policy: YAML rules from matches and detector scores to actions.

A policy is a list of rules. Every rule whose condition holds *matches*; the matching
rule with the highest ``priority`` *fires* (ties go to the stricter action), and the
decision records it, why it held, and every other rule that matched. Detector scores
the caller did not supply make a condition false, never true: an absent face detector
cannot hold an upload, and the explanation says the score was missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from haechi.errors import HaechiError
from haechi.results import Match

Action = Literal["block", "hold", "restrict", "allow"]
#: Stricter first: breaks ties between rules of equal priority.
ACTION_SEVERITY: dict[str, int] = {"block": 3, "hold": 2, "restrict": 1, "allow": 0}


class PolicyError(HaechiError):
    code = "invalid_policy"
    http_status = 422


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BankMatchCondition(_Strict):
    """A bank match of this kind, optionally only in these banks or entry categories."""

    kind: Literal["block", "allow"] = "block"
    banks: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


class Condition(_Strict):
    """Every field given must hold (AND); ``any`` holds when one of its parts does."""

    always: bool = False
    bank_match: BankMatchCondition | None = None
    #: Detector score >= value, e.g. {sexual: 0.8, real_face: 0.5}.
    min_scores: dict[str, float] = Field(default_factory=dict)
    #: Detector score < value.
    max_scores: dict[str, float] = Field(default_factory=dict)
    media_kind: Literal["image", "video"] | None = None
    #: True: the upload could not be scanned (corrupt, too large, unsupported).
    scan_error: bool | None = None
    any: list[Condition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not (self.always or self.bank_match or self.min_scores or self.max_scores
                or self.media_kind or self.scan_error is not None or self.any):
            raise ValueError("a condition needs at least one test (use 'always: true' for "
                             "a rule that always matches)")
        return self


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    when: Condition
    action: Action
    #: Higher wins when several rules match.
    priority: int = Field(default=0, ge=-1000, le=1000)
    #: Queue priority for ``hold`` (higher is reviewed first).
    review_priority: int = Field(default=0, ge=0, le=1000)
    #: What the content is, for strikes, statements of reasons and bank entries.
    category: str = Field(default="", max_length=100)
    #: Strike weight given to the uploader when the content is removed.
    strike_weight: float = Field(default=1.0, ge=0, le=100)
    #: Severe: one confirmed offence bans the uploader at once.
    severe: bool = False
    #: The content is (likely) synthetic: recorded in statements of reasons.
    synthetic: bool = False


class StrikeSettings(_Strict):
    ban_threshold: float = Field(default=3.0, gt=0)
    expiry_days: float = Field(default=365.0, gt=0)


class BankSettings(_Strict):
    #: Where confirmed items' hashes go: later copies are blocked with no human.
    confirmed: str = Field(default="moderation-confirmed", min_length=1, max_length=100)
    #: Where declined items' exact digests go: the same file is not held again.
    declined: str = Field(default="moderation-declined", min_length=1, max_length=100)


class Policy(_Strict):
    version: Literal[1] = 1
    strikes: StrikeSettings = Field(default_factory=StrikeSettings)
    banks: BankSettings = Field(default_factory=BankSettings)
    #: Categories that are severe whatever the rule says (e.g. minors).
    severe_categories: list[str] = Field(default_factory=list)
    #: What applies when no rule matches.
    default_action: Action = "allow"
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; names must be unique")
            seen.add(rule.name)
        return self

    def is_severe(self, rule: Rule) -> bool:
        return rule.severe or rule.category in self.severe_categories


class PolicyInput(BaseModel):
    """What a decision is made from."""

    matches: list[Match] = Field(default_factory=list)
    detections: dict[str, float] = Field(default_factory=dict)
    media_kind: str | None = None
    scan_error: str | None = None


class PolicyDecision(BaseModel):
    action: Action
    #: The rule that fired; "" when none matched and the default applied.
    rule: str
    reason: str
    review_priority: int = 0
    category: str = ""
    strike_weight: float = 0.0
    severe: bool = False
    synthetic: bool = False
    #: Every rule that matched, in the order of precedence.
    matched_rules: list[str] = Field(default_factory=list)
    #: The category a matched block-bank entry carries (e.g. synthetic_sexual), if any:
    #: what the known item was, as the rule's category says only how it was found.
    match_category: str = ""


# -- evaluation -----------------------------------------------------------------------

def _check(cond: Condition, facts: PolicyInput, why: list[str]) -> bool:
    """Whether ``cond`` holds; appends the reasons it does (or the first why not)."""
    if cond.media_kind is not None and facts.media_kind != cond.media_kind:
        return False
    if cond.scan_error is not None and (facts.scan_error is not None) != cond.scan_error:
        return False
    if cond.scan_error:
        why.append(f"the upload could not be scanned ({facts.scan_error})")
    if cond.bank_match is not None:
        found = [m for m in facts.matches if _bank_match(cond.bank_match, m)]
        if not found:
            return False
        first = found[0]
        how = "identical" if first.distance in (0, None) else f"distance {first.distance}"
        why.append(f"{cond.bank_match.kind} bank '{first.bank}' entry {first.entry_id} "
                   f"matched by {first.signal} ({how})"
                   + (f" and {len(found) - 1} more" if len(found) > 1 else ""))
    for name, threshold in cond.min_scores.items():
        score = facts.detections.get(name)
        if score is None or score < threshold:
            return False
        why.append(f"{name} score {score:.2f} >= {threshold:g}")
    for name, threshold in cond.max_scores.items():
        score = facts.detections.get(name)
        if score is None or score >= threshold:
            return False
        why.append(f"{name} score {score:.2f} < {threshold:g}")
    if cond.any:
        for part in cond.any:
            sub: list[str] = []
            if _check(part, facts, sub):
                why.extend(sub)
                break
        else:
            return False
    if cond.always:
        why.append("always applies")
    return True


def _bank_match(cond: BankMatchCondition, m: Match) -> bool:
    return (m.bank_kind == cond.kind and (not cond.banks or m.bank in cond.banks)
            and (not cond.categories or m.entry.category in cond.categories))


def _missing_scores(cond: Condition, facts: PolicyInput) -> set[str]:
    names = set(cond.min_scores) | set(cond.max_scores)
    for part in cond.any:
        names |= _missing_scores(part, facts)
    return {n for n in names if n not in facts.detections}


class CompiledPolicy:
    """A validated policy, rules sorted once by precedence so evaluation is one pass."""

    def __init__(self, policy: Policy, *, source: str = "") -> None:
        self.policy = policy
        self.source = source
        self._ordered = sorted(policy.rules,
                               key=lambda r: (-r.priority, -ACTION_SEVERITY[r.action]))

    def evaluate(self, facts: PolicyInput) -> PolicyDecision:
        fired: Rule | None = None
        fired_why: list[str] = []
        matched: list[str] = []
        for rule in self._ordered:
            why: list[str] = []
            if _check(rule.when, facts, why):
                matched.append(rule.name)
                if fired is None:
                    fired, fired_why = rule, why
        if fired is None:
            missing = set().union(*(_missing_scores(r.when, facts) for r in self._ordered))
            note = (f" (scores not supplied: {', '.join(sorted(missing))})" if missing else "")
            return PolicyDecision(action=self.policy.default_action, rule="",
                                  reason="no rule matched; the policy's default applies" + note)
        reason = f"rule '{fired.name}': " + "; ".join(fired_why)
        match_category = next((m.entry.category for m in facts.matches
                               if m.bank_kind == "block" and m.entry.category), "")
        return PolicyDecision(
            action=fired.action, rule=fired.name, reason=reason,
            review_priority=fired.review_priority, category=fired.category,
            strike_weight=fired.strike_weight if fired.action == "block" else 0.0,
            severe=self.policy.is_severe(fired), synthetic=fired.synthetic,
            matched_rules=matched, match_category=match_category,
        )

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.policy.rules if r.name == name), None)


# -- loading with line numbers --------------------------------------------------------

def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the YAML node at the pydantic error location ``loc``."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if child is None:
                break
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _where(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_policy(text: str, *, source: str = "<policy>") -> CompiledPolicy:
    """Parse and validate YAML; every problem names its line and field."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data: Any = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else "?"
        raise PolicyError(f"{source}: {where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: a policy is a mapping with 'rules'")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:10]:
            loc = [p for p in err["loc"] if not _is_union_tag(p)]
            line = _line_of(node, loc)
            at = f"line {line}: " if line is not None else ""
            problems.append(f"{at}{_where(loc)}: {err['msg']}")
        raise PolicyError(f"{source}: " + "; ".join(problems)) from None
    return CompiledPolicy(policy, source=source)


def _is_union_tag(part: int | str) -> bool:
    # pydantic puts the model name into a location for some validators; not a YAML key.
    return isinstance(part, str) and part[:1].isupper()


def load_policy(path: Path | None = None) -> CompiledPolicy:
    """The policy at ``path``, or the default shipped with the package."""
    if path is None:
        text = resources.files("haechi.moderation").joinpath("default_policy.yaml").read_text(
            encoding="utf-8")
        return parse_policy(text, source="default_policy.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the policy {path}: {exc.strerror or exc}",
                          code="policy_unreadable") from exc
    return parse_policy(text, source=str(path))
