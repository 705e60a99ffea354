"""The solicitation lexicon (``data/lexicon.tsv``) compiled into one pattern.

One alternation with a named group per rule scans each message once, which keeps text
rules affordable over a million messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from haechi.errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    weight: float
    pattern: str


@dataclass(frozen=True, slots=True)
class TextHit:
    categories: tuple[str, ...]
    terms: tuple[str, ...]
    points: float


class Lexicon:
    def __init__(self, rules: list[Rule]) -> None:
        if not rules:
            raise InvalidRequestError("the lexicon has no rules", code="bad_lexicon")
        self.rules = rules
        self._regex = re.compile(
            "|".join(f"(?P<r{i}>{r.pattern})" for i, r in enumerate(rules)),
            re.IGNORECASE | re.UNICODE)

    def match(self, text: str) -> TextHit | None:
        """Categories and terms matched in ``text``, or None when nothing matched."""
        if not text:
            return None
        weights: dict[str, float] = {}
        terms: list[str] = []
        for found in self._regex.finditer(text):
            name = found.lastgroup
            if name is None:
                continue
            rule = self.rules[int(name[1:])]
            weights[rule.category] = max(weights.get(rule.category, 0.0), rule.weight)
            term = found.group(0).strip()
            if term not in terms and len(terms) < 8:
                terms.append(term)
        if not weights:
            return None
        return TextHit(tuple(sorted(weights)), tuple(terms), sum(weights.values()))


def parse_lexicon(text: str, *, name: str = "lexicon") -> Lexicon:
    rules: list[Rule] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise InvalidRequestError(f"{name} line {number}: expected CATEGORY<tab>WEIGHT"
                                      "<tab>PATTERN", code="bad_lexicon")
        category, weight, pattern = (p.strip() for p in parts)
        try:
            re.compile(pattern)
            rules.append(Rule(category, float(weight), pattern))
        except (re.error, ValueError) as exc:
            raise InvalidRequestError(f"{name} line {number}: {exc}",
                                      code="bad_lexicon") from exc
    return Lexicon(rules)


@cache
def default_lexicon() -> Lexicon:
    text = resources.files("haechi.tracking").joinpath("data/lexicon.tsv").read_text("utf-8")
    return parse_lexicon(text, name="lexicon.tsv")


def load_lexicon(path: Path | None) -> Lexicon:
    if path is None:
        return default_lexicon()
    return parse_lexicon(path.read_text("utf-8"), name=path.name)
