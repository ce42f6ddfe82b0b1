"""A module whose import takes a minute: loading it ahead must not hold up a shutdown."""

import time

time.sleep(60)
