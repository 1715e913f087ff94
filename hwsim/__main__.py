"""``python -m hwsim``: the same as the ``hwsim`` console script."""
import sys

from .cli import main

sys.exit(main())
