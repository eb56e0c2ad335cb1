"""The BentoML generation service (service.py) and how to run it on loopback (local.py)."""
