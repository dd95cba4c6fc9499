"""``python -m gateway.simulator`` runs the simulator on its own (the same as ``anjungan node simulate``)."""

import sys

from gateway.errors import AnjunganError
from gateway.simulator.cli import simulate_command


def main() -> None:
    try:
        simulate_command.main(standalone_mode=False)
    except AnjunganError as err:
        print(f"anjungan: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
