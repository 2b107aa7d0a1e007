"""``python -m logaudit`` and the ``logaudit`` command.

The heavy imports (pandas, pyarrow, the CLI) happen inside ``main`` so that Ctrl-C while they
load is one line and exit 130, like Ctrl-C at any later moment, not a traceback.
"""

import os
import sys


def main() -> None:
    try:
        from logaudit.cli import main as cli_main
    except KeyboardInterrupt:
        try:
            sys.stderr.write("logaudit: interrupted\n")
            sys.stderr.flush()
        finally:
            os._exit(130)
    cli_main()


if __name__ == "__main__":
    main()
