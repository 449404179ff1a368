"""The control API under ``/_sim/``, one module per concern; graphsim.app
lists the ones it serves."""
