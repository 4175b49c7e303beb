"""Container networking: bridge networks, address leases, /etc files and published ports.

Only ``netlink`` imports pyroute2, and only code that wires links imports ``netlink``:
``berth ps`` and the monitor never load it.
"""
