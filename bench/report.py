"""Rows of the results table, the machine they ran on, and the JSON written next to them."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"


@dataclass
class Row:
    """One line of the table: what was measured, the figure, the target and whether it held.

    ``met`` is None when there is no pass/fail (or the row was not measured).
    """

    measure: str
    result: str
    target: str
    met: bool | None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def not_measured(cls, measure: str, target: str, reason: str) -> Row:
        return cls(measure, f"not measured: {reason}", target, None, {"measured": False})

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "—"
        return "met" if self.met else "MISSED"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine(database: str, broker: str) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gb": _ram_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": database,
        "broker": broker,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (the README shows the same text)."""
    lines = ["| measure | result | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {r.measure} | {r.result} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM, "
        f"Python {info['python']}, {info['database']}, {info['broker']}, {info['date']}"
    )


def write(rows: list[Row], info: dict[str, Any], path: Path = RESULTS_PATH) -> None:
    body = {"machine": info, "rows": [asdict(r) | {"verdict": r.verdict} for r in rows]}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")


def merge(rows: list[Row], info: dict[str, Any], path: Path = RESULTS_PATH) -> None:
    """Put ``rows`` into the results file in place of rows of the same measure (new
    measures at the end); each merged row names the machine and run it came from,
    since the file's own machine is that of the last full run."""
    body = json.loads(path.read_text()) if path.exists() else {"machine": info, "rows": []}
    merged = {r.measure: asdict(r) | {"verdict": r.verdict, "machine": info} for r in rows}
    kept = [merged.pop(row["measure"], row) for row in body["rows"]]
    body["rows"] = kept + list(merged.values())
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
