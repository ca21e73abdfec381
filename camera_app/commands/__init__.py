"""One module per ``camera-app`` sub-command, each with ``register(sub)``."""
