"""Request handlers, one module per audience; pure view builders next to them."""
