"""Disparity matchers behind one interface (:class:`~parallax.stereo.matchers.base.Matcher`)."""

from parallax.stereo.matchers.base import Matcher, MatchResult

__all__ = ["Matcher", "MatchResult"]
