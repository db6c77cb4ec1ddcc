"""The label schema, defined once (see ../shared/codebook.md, copied to docs/codebook.md).

Everything that names a label (corpus loader, model heads, metrics, reports) imports it from here,
so a label can never be spelled two ways.
"""

from __future__ import annotations

from typing import Final

CERTAINTY: Final[tuple[str, ...]] = ("confirmed", "believed", "unclear")
ATTRIBUTION: Final[tuple[str, ...]] = ("named", "anonymous", "none")

#: axis name -> labels in a fixed order (the order of the model's output units)
AXES: Final[dict[str, tuple[str, ...]]] = {"certainty": CERTAINTY, "attribution": ATTRIBUTION}

#: codebook rule 1 of the certainty axis: the most uncertain clause wins
CERTAINTY_RANK: Final[dict[str, int]] = {"confirmed": 0, "believed": 1, "unclear": 2}

#: what a prediction below --min-confidence is reported as
UNCERTAIN: Final[str] = "uncertain"


def check_label(axis: str, label: str) -> str:
    """Return `label` if it belongs to `axis`, else raise a ValueError that lists the valid ones."""
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r} (axes: {', '.join(AXES)})")
    if label not in AXES[axis]:
        raise ValueError(f"unknown {axis} label {label!r} (expected one of: {', '.join(AXES[axis])})")
    return label


def label2id(axis: str) -> dict[str, int]:
    return {lab: i for i, lab in enumerate(AXES[axis])}
