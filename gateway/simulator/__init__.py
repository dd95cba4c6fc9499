"""The board simulator: the project firmware on CPython behind a pseudo-terminal."""
