"""``python -m mefkit ...`` runs the command line (e.g. under ``torchrun``)."""

from . import main

if __name__ == "__main__":
    main()
