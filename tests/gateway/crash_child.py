"""Run by test_crash.py: write readings through the ReadingWriter and print each acknowledged frame's key.

Usage: crash_child.py STORE BOOT. Frames of node ``crash`` in boot BOOT, q from 0 upwards, 3 frames of 4
readings per submit (and each batch once more, as a duplicate); a key is printed, flushed, only after the
Future of its batch resolved, i.e. after its commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.frame import Frame
from gateway.store import Store


def main() -> None:
    path, boot = Path(sys.argv[1]), int(sys.argv[2])
    with Store.open(path) as store:
        writer = store.writer()
        q = 0
        while True:
            frames = [
                Frame("r", "crash", boot, n, {"a_v": n * 1.0, "b_v": 1.0, "c_v": 2.0, "d_v": boot * 1.0})
                for n in range(q, q + 3)
            ]
            futures = [writer.submit(frames), writer.submit(frames[1:])]
            for future in futures:
                future.result(30)
            sys.stdout.write("".join(f"{boot} {f.seq}\n" for f in frames))
            sys.stdout.flush()
            q += 3


if __name__ == "__main__":
    main()
