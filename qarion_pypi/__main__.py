import sys

from qarion_pypi.cli import main

sys.exit(main())
