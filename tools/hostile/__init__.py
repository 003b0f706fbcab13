"""`scripts/hostile-load`: what an attacker on the open internet does to a live `referly serve`,
bounded and on loopback only, with the figures a person compares before and after a change."""
