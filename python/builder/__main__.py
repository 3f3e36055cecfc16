import sys

from builder.cli import main

if __name__ == "__main__":  # spawned workers (DDP) re-import this module as __mp_main__
    sys.exit(main())
