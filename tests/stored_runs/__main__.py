import sys

from tests.stored_runs import main

sys.exit(main())
