"""Disparity matchers behind one interface (:class:`~parallax.stereo.matchers.base.Matcher`),
found by name with :func:`get_matcher` (see :mod:`parallax.stereo.matchers.registry`)."""

from parallax.stereo.matchers.base import Matcher, MatchResult
from parallax.stereo.matchers.registry import MATCHERS, get_matcher, matcher_names

__all__ = ["Matcher", "MatchResult", "MATCHERS", "get_matcher", "matcher_names"]
