"""Money as people read it. Amounts are integer cents everywhere; these are the only ways
they become text (screens, messages, files), so that every place writes them alike."""

from __future__ import annotations


def dollars(cents: int) -> str:
    """$1,234.50; a negative amount -$12.00."""
    return f"-${-cents / 100:,.2f}" if cents < 0 else f"${cents / 100:,.2f}"


def amount(cents: int) -> str:
    """1,234.50 (a table's column says the currency); a negative amount -12.00."""
    return f"{cents / 100:,.2f}"


def plain(cents: int) -> str:
    """1234.50: what a money field holds for editing, and what a CSV cell holds."""
    return f"{cents / 100:.2f}"
