"""Edge adapters: one sub-package per source, all with the same shape (see
docs/adding-a-carrier.md). ``carriers.get(name)`` returns a source's parser and verifier."""

from carriers.base import ParseResult, Problem, ProblemCode, Source
from carriers.registry import get, names

__all__ = ["ParseResult", "Problem", "ProblemCode", "Source", "get", "names"]
