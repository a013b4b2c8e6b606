"""`harness compare`: is B really better than A, on which tasks, at what cost?"""

from harness.compare.compare import CompareRequest, Comparison, compare, suggested_model
from harness.compare.sides import Side, resolve

__all__ = ["CompareRequest", "Comparison", "Side", "compare", "resolve", "suggested_model"]
