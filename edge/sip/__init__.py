"""The edge's SIP side: listeners on UDP and TCP and what answers the messages they get.

The parser it stands on (edge/sipparse.py and its accelerator) lives beside the other
accelerators in edge/."""
