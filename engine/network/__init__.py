"""Container networking: bridge networks, address leases, /etc files and published ports.

The kernel is asked through ``rtnetlink`` (one netlink socket, the standard library):
no pyroute2, whose import alone cost more than a bridge container's whole wiring.
Only code that wires links imports ``netlink``: ``berth ps`` and the monitor never load it.
"""
