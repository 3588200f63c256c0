"""wismo api package."""
