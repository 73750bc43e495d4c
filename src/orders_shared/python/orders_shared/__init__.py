"""Code the orders workflow's functions share, deployed as a Lambda layer (`orders-shared`):
Lambda extracts a layer into /opt, and its `python/` folder is on every function's path."""
