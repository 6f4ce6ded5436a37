"""The watchlist: who and what Pantau watches (candidates, parties, policies) and their aliases."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Priority(IntEnum):
    low = 0
    normal = 1
    high = 2
    critical = 3


class Target(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    kind: Literal["candidate", "party", "policy", "organisation", "issue"]
    name: str = Field(min_length=1)
    priority: Literal["low", "normal", "high", "critical"] = "normal"
    aliases: tuple[str, ...] = ()

    @field_validator("aliases")
    @classmethod
    def _no_blank_alias(cls, aliases: tuple[str, ...]) -> tuple[str, ...]:
        if any(not a.strip() for a in aliases):
            raise ValueError("aliases must not be blank")
        return aliases

    @property
    def priority_rank(self) -> Priority:
        return Priority[self.priority]

    @property
    def all_aliases(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class Watchlist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: tuple[Target, ...]

    @field_validator("targets")
    @classmethod
    def _unique_ids(cls, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        seen: set[str] = set()
        for target in targets:
            if target.id in seen:
                raise ValueError(f"duplicate target id {target.id!r}")
            seen.add(target.id)
        return targets

    def get(self, target_id: str) -> Target | None:
        return next((t for t in self.targets if t.id == target_id), None)


class WatchlistError(ValueError):
    pass


def load_watchlist(path: Path) -> Watchlist:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WatchlistError(f"{path}: cannot read watchlist: {exc}") from None
    try:
        return Watchlist.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise WatchlistError(f"{path}: invalid watchlist: {where}") from None
