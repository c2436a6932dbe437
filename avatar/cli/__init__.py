"""The `avatar` command: `main.py` parses and runs a handler (`handlers.py`, `demo.py`). The
parsers' shared look (`parts.py`) and the exceptions that mean bad input (`errors.py`) are also
what `capture` and `viewer` use to register their own commands; nothing but the command itself
imports main or the handlers."""
