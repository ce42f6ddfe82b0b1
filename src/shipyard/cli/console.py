"""Output helpers shared by the commands: one console, one way to format values."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

STATUS_STYLES = {
    "pending": "dim",
    "running": "yellow",
    "retrying": "yellow",
    "waiting": "yellow",
    "succeeded": "green",
    "cached": "cyan",
    "failed": "bold red",
    "skipped": "magenta",
    "crashed": "bold red",
}


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLES.get(status, 'white')}]{status}[/]"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def size(value: int) -> str:
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"
