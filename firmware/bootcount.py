# Boot counter kept in flash: a small file holding one decimal number, +1 per boot.
_PATH = "bootcount.txt"


def read(path=_PATH):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def bump(path=_PATH):
    """Increment the stored counter and return the new value (1 on a fresh board)."""
    n = read(path) + 1
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(str(n))
    try:
        import os

        os.rename(tmp, path)
    except OSError:
        with open(path, "w") as f:
            f.write(str(n))
    return n
