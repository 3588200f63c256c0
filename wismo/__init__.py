"""wismo: the shared language — canonical events, vocabularies, settings and the CLI."""
