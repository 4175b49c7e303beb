"""A container's files: cp, diff and export (service.py; the helper process is inside.py).

Nothing is imported here: the helper process loads only what it uses.
"""
