"""The software factory reset: the units it is asked for and its command line."""
