"""wismo streams package."""
