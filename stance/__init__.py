"""stance: how news outlets hedge and source their reporting, sentence by sentence."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Predictor", "__version__"]


def __getattr__(name: str):  # lazy: `import stance` must not pay for torch
    if name == "Predictor":
        from stance.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'stance' has no attribute {name!r}")
