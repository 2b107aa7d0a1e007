"""``python -m logaudit`` and the ``logaudit`` command.

Signal handling is installed first and the heavy imports (pandas, pyarrow, the CLI) happen
inside ``main``, so that Ctrl-C, SIGTERM or SIGHUP while they load is one line and exit
128 + the signal's number (130 for Ctrl-C), as at any later moment, not a traceback.
"""

import gc
import os
import sys

# logaudit does no linear algebra, but numpy's OpenBLAS starts a thread per core when numpy
# loads, which spins (busy-waits) for a while: CPU taken from the start-up imports and the
# first blocks on a 2-core host. Set before anything imports numpy; a user's value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Transparent huge pages cost more than they save here: numpy asks for them on every array of
# 4 MiB or more, and Arrow's bundled mimalloc on its 1 GiB arena, so each fresh 2 MiB page is
# zeroed whole by the kernel on first touch, again after each free. `trends --state` over a
# year of a 10,000-visitors-a-day site spent 8-12 s of its 13-16 s in the kernel doing that
# (perf: clear_page_erms under do_huge_pmd_anonymous_page), 1.6 s without; a 1M-line summary
# 0.9-1.5 s of system time, 0.5 s without. So numpy does not ask, and Arrow allocates from
# the C library's malloc (as engine.local already chose for reading logs, for memory) in
# every command, the history store's included. A user's value wins.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from logaudit import procs  # noqa: E402 - after the environment above


def main() -> None:
    procs.install()
    # No cyclic-GC pass while the CLI (click, the config, their imports) is imported: a dozen
    # young-generation passes that free next to nothing, ~2.5 ms of every start-up, `--help`
    # included (logaudit/heap.py says the same of the data stack). ``cli.main`` then freezes
    # what the imports made and collects less often.
    was = gc.isenabled()
    gc.disable()
    try:
        from logaudit.cli import main as cli_main
    except KeyboardInterrupt as e:
        code = getattr(e, "code", 130)
        name = e.args[0] if isinstance(e, procs.Stopped) else ""
        try:
            said = f"stopped by {name}" if name else "interrupted"
            sys.stderr.write(f"logaudit: {said}\n")
            sys.stderr.flush()
        finally:
            os._exit(code)
    finally:
        if was:
            gc.enable()
    cli_main()


if __name__ == "__main__":
    main()
