import sys

from dealgate.cli import main

sys.exit(main())
