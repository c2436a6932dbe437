"""`python -m avatar.cli`: the `avatar` command."""

import sys

from avatar.cli.main import main

sys.exit(main())
