"""wismo carriers package."""
