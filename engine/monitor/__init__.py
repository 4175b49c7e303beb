"""The per-container monitor (conmon's role): stdio, logs, attach socket, exit status.

It runs one per container, so it imports only the standard library, the runtime and
the small modules of this package.
"""
