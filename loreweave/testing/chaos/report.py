"""What a chaos run found: per scenario a row per actor (sent / applied / lost / doubled), the ledger check,
and the losses named frame by frame; the run ends with ``lost N, doubled M``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    """One actor's (or one emitted event's) tally, read from the ground truth named in ``truth``."""

    name: str
    sent: int
    applied: int
    lost: int
    doubled: int
    truth: str


@dataclass(frozen=True)
class LedgerCheck:
    """Every purchase key charged exactly once, and its events in the stream exactly once.

    Attributes:
        keys: purchase keys the game server used.
        charged_once: keys with exactly one completed intent and one entitlement.
        completed: completed purchases (the events' expected count).
        succeeded_once: completed purchases with exactly one ``payment.succeeded`` in the stream.
        granted_once: completed purchases with exactly one ``payment.entitlement_granted``.
        ledger_cents: the sum of the ledger's charges.
        expected_cents: the prices of the keys the game server sent.
        receipts: keys the game server got a receipt for.
    """

    keys: int
    charged_once: int
    completed: int
    succeeded_once: int
    granted_once: int
    ledger_cents: int
    expected_cents: int
    receipts: int

    @property
    def ok(self) -> bool:
        """All of it holds."""
        return (self.charged_once == self.keys == self.completed == self.succeeded_once == self.granted_once
                == self.receipts and self.ledger_cents == self.expected_cents)

    def line(self) -> str:
        """One line: each check with its count."""
        sign = "=" if self.ledger_cents == self.expected_cents else "!="
        return (f"ledger: {self.charged_once}/{self.keys} keys charged once, {self.receipts}/{self.keys} receipts; "
                f"payment.succeeded once {self.succeeded_once}/{self.completed}, "
                f"payment.entitlement_granted once {self.granted_once}/{self.completed}; "
                f"sum {self.ledger_cents} {sign} {self.expected_cents} cents: {'ok' if self.ok else 'FAILED'}")


@dataclass
class ScenarioResult:
    """One scenario's findings."""

    name: str
    description: str
    rows: list[Row]
    ledger: LedgerCheck
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Frames or effects lost, all rows together (a ledger sum short of the prices counts one)."""
        lost = sum(row.lost for row in self.rows)
        return lost + (1 if self.ledger.ledger_cents < self.ledger.expected_cents and not lost else 0)

    @property
    def doubled(self) -> int:
        """Frames or effects applied more than once (a ledger sum above the prices counts one)."""
        doubled = sum(row.doubled for row in self.rows)
        return doubled + (1 if self.ledger.ledger_cents > self.ledger.expected_cents and not doubled else 0)

    def render(self) -> str:
        """The scenario's table, ledger line, notes and named losses."""
        width = max(len(row.name) for row in self.rows)
        lines = [f"scenario {self.name}: {self.description} ({self.seconds:.1f} s)",
                 f"  {'actor':<{width}}  {'sent':>7}  {'applied':>7}  {'lost':>5}  {'doubled':>7}  ground truth"]
        for row in self.rows:
            lines.append(f"  {row.name:<{width}}  {row.sent:>7}  {row.applied:>7}  {row.lost:>5}  {row.doubled:>7}"
                         f"  {row.truth}")
        lines.append("  " + self.ledger.line())
        lines += [f"  {note}" for note in self.notes]
        lines += [f"  ! {detail}" for detail in self.details]
        return "\n".join(lines)


@dataclass
class ChaosReport:
    """Every scenario of a run."""

    scenarios: list[ScenarioResult] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Lost, all scenarios together."""
        return sum(result.lost for result in self.scenarios)

    @property
    def doubled(self) -> int:
        """Doubled, all scenarios together."""
        return sum(result.doubled for result in self.scenarios)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing doubled, every ledger check held."""
        return self.lost == 0 and self.doubled == 0 and all(result.ledger.ok for result in self.scenarios)

    def final_line(self) -> str:
        """``lost N, doubled M``."""
        return f"lost {self.lost}, doubled {self.doubled}"

    def render(self) -> str:
        """Every scenario, then the final line."""
        return "\n\n".join([*(result.render() for result in self.scenarios), self.final_line()])
