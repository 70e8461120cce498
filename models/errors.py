"""Errors of the models layer; messages name the bad value and what is allowed.

They derive the project's ``TenantmatchError`` (exit code 1: a bad model store is an operator
problem, not input).
"""

from __future__ import annotations

from tenantmatch.registry import TenantmatchError


class ModelsError(TenantmatchError):
    """Base of every error the models layer raises on purpose."""


class GroupSizeError(ModelsError, ValueError):
    """Query group sizes do not partition the rows (wrong sum, non-positive size, bad length)."""


class InvalidTargetError(ModelsError, ValueError):
    """Relevance grades outside the allowed range, or not enough classes to learn from."""


class FeatureMismatchError(ModelsError, ValueError):
    """A feature matrix lacks columns the scorer needs, or holds non-numeric columns."""


class NotFittedError(ModelsError, RuntimeError):
    """``score`` or ``contributions`` was called before ``fit`` or ``load_state``."""


class NonFiniteScoreError(ModelsError, ArithmeticError):
    """A scorer produced NaN or infinite scores; they would silently break any ranking."""


class UnknownScorerError(ModelsError, ValueError):
    """``make_scorer`` was given a name it does not know."""


class ModelStoreError(ModelsError):
    """The model store, a version in it, or its CURRENT pointer is missing or unusable."""


class CorruptModelError(ModelStoreError):
    """A stored version's file does not match its manifest hash or cannot be parsed."""


class IncompatibleModelError(ModelsError):
    """A stored model expects other features than the caller's feature spec provides."""
