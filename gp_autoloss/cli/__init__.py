"""The ``gp-autoloss`` command line."""
