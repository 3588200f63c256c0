"""Pure folds and rules, and the stores that hold their results."""

from projections.serialize import timeline_to_dict, timeline_to_json
from projections.timeline import FoldError, fold
from projections.timeline_model import Timeline

__all__ = ["FoldError", "Timeline", "fold", "timeline_to_dict", "timeline_to_json"]
